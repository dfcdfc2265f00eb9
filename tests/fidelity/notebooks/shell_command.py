# %% [markdown]
# # Shell commands
# `!echo` becomes `subprocess.run(..., shell=True, check=True)`: it writes a file that the
# next line of the step reads.

# %% tags=["imports"]
import pathlib

# %% tags=["step:prepare"]
# !echo shell-output > shell_out.txt
text = pathlib.Path("shell_out.txt").read_text().strip()

# %% tags=["step:use"]
result = text.upper()
