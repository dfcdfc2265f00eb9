# %% [markdown]
# # A book-style setup cell, untagged
# The first cell holds a constant, a setting that uses it, and a helper reading the
# constant as a global (Hands-On ML's `save_fig`). Later sections call the helper: each
# step defines it again and receives `IMAGES_PATH` from `setup`.

# %%
import os
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

IMAGES_PATH = os.path.join("images", "setup_save_fig")
os.makedirs(IMAGES_PATH, exist_ok=True)


def save_fig(fig_id, fig_extension="png"):
    path = os.path.join(IMAGES_PATH, fig_id + "." + fig_extension)
    plt.savefig(path, format=fig_extension, dpi=50)
    return path

# %% [markdown]
# ## A line

# %%
plt.plot([0, 1, 2], [2, 0, 1])
line_path = save_fig("line")
line_saved = os.path.exists(line_path)

# %% [markdown]
# ## Some bars

# %%
plt.bar([0, 1], [3, 4])
bars_path = save_fig("bars")
files = sorted(os.listdir(IMAGES_PATH))
