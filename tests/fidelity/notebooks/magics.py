# %% [markdown]
# # Magics and !pip
# `%matplotlib` and `%load_ext` are dropped, `%time` and `%%time` keep their statement,
# `!pip install` moves to requirements (verify leaves it out of the notebook run).

# %% tags=["imports"]
# %matplotlib inline
# %load_ext autoreload
import pathlib

# %% tags=["step:prepare"]
# !pip install numpy
# %time base = sum(range(10))
text = pathlib.Path("magics.py").suffix

# %%
# %%time
doubled = base * 2

# %% tags=["step:use"]
result = (base, doubled, text)
