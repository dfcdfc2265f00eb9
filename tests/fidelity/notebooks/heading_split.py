# %% [markdown]
# # Heading split
# No step tags: steps are cut at the level-2 headings. Code under
# `if __name__ == "__main__":` runs, and a `skip` cell is left out of both runs.

# %%
import statistics

# %% [markdown]
# ## Load

# %%
values = [5, 3, 8, 1]
if __name__ == "__main__":
    values.append(10)

# %% tags=["skip"]
values.append(1000)  # scratch: not part of the pipeline

# %% [markdown]
# ## Summarise

# %%
summary = {"mean": statistics.mean(values), "n": len(values)}
