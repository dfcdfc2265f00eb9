# %% [markdown]
# # Figures across cells (issue 19.2)
# Jupyter's inline backend shows and closes every figure when a cell ends and on
# `plt.show()`: a plot in the next cell starts on a new figure. Kept figures and axes
# are compared by what they show.

# %% tags=["imports"]
import matplotlib.pyplot as plt

# %% tags=["step:plots"]
plt.bar([1, 2], [3, 4])

# %%
ax = plt.gca()
ax.bar([1, 2, 3], [1, 1, 1])
n_bars = len(ax.patches)

# %%
fig, axes = plt.subplots(1, 2)
axes[0].plot([1, 2, 3], [3, 1, 2])
axes[1].scatter([1, 2], [2, 1])
plt.show()
latest = plt.gca()
latest.plot([0, 1])
n_latest = len(latest.lines) + len(latest.figure.axes)
fig.suptitle("still drawn on after show")


# %% tags=["step:more"]
plt.plot([0, 1], [1, 0])
n_lines = len(plt.gca().lines)
