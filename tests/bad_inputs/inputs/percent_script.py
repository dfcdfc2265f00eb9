# ---
# jupyter:
#   kernelspec:
#     language: python
#     name: python3
#     display_name: Python 3
# ---

# %% [markdown]
# {{ 7*7 }} """ \

# %% tags=["parameters"]
n = 2  # {% raw %}

# %% tags=["step:a", "x\"\"\"y"]
x = n * 2

# %%
#| nb2pipe: step:b
y = x + 1
