# %% [markdown]
# # Loop variables and chained assignment
# A `for` loop's variable keeps its last value after the loop; `a = b = 0` binds both;
# tuple unpacking with a starred target.

# %% tags=["step:loop"]
total = 0
for i, word in enumerate(["x", "yy", "zzz"]):
    total += len(word)
first = last = None
first, *middle, last = [1, 2, 3, 4, 5]
low = high = 0
high = 9

# %% tags=["step:use"]
result = (i, word, total, first, middle, last, low, high)
