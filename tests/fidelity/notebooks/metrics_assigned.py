# %% [markdown]
# # Metrics computed in the metrics cell
# The `metrics` cell assigns new names from a step's outputs (they become metrics of
# that step) and prints one.

# %% tags=["step:score"]
hits = [1, 0, 1, 1]
accuracy = sum(hits) / len(hits)

# %% tags=["metrics"]
error_rate = 1 - accuracy
print(accuracy)

# %% tags=["step:report"]
summary = f"accuracy={accuracy:.2f} error={error_rate:.2f}"
