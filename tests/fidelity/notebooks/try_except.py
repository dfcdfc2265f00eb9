# %% [markdown]
# # try / except / else / finally
# Names bound in the try body, the except handler (with `as`), `else` and `finally`.

# %% tags=["step:parse"]
raw = ["1", "2", "x", "4"]
parsed = []
errors = []
for item in raw:
    try:
        value = int(item)
    except ValueError as exc:
        errors.append(str(exc))
        value = -1
    else:
        value *= 10
    finally:
        parsed.append(value)

try:
    ratio = 1 / 0
except ZeroDivisionError:
    ratio = float("inf")

# %% tags=["step:use"]
result = (parsed, len(errors), ratio)
