# %% [markdown]
# # Directives instead of tags
# `#| nb2pipe:` first lines carry the tags, for editors without a tag UI.

# %%
#| nb2pipe: parameters
n = 4

# %%
#| nb2pipe: step:make
squares = [i * i for i in range(n)]

# %%
#| nb2pipe: step:total after:make
total = sum(squares)
