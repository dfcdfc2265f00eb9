# %% [markdown]
# # State kept on a class
# A class defined in one step has a class attribute (a registry) that a later step
# changes through the class; a third step reads it.

# %% tags=["step:define"]
class Registry:
    items = []
    mode = "off"

    @classmethod
    def register(cls, name):
        cls.items.append(name)
        return len(cls.items)

# %% tags=["step:fill"]
Registry.register("a")
count = Registry.register("b")
Registry.mode = "on"

# %% tags=["step:use"]
result = (list(Registry.items), Registry.mode, count)
