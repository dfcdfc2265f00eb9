"""Write the corpus's small CSV files (synthetic, seeded; run again to regenerate them
byte for byte). They stand in for the Kaggle-style files such tutorials download:
passengers (survival of a ship's passengers), housing (district prices), bikes (daily
bicycle counts with weather)."""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def passengers(rng: np.random.Generator, n: int = 600) -> pd.DataFrame:
    pclass = rng.choice([1, 2, 3], n, p=[0.25, 0.2, 0.55])
    sex = rng.choice(["male", "female"], n, p=[0.64, 0.36])
    age = np.round(rng.gamma(6, 5, n).clip(0.5, 80), 1)
    age[rng.random(n) < 0.2] = np.nan
    sibsp = rng.poisson(0.5, n)
    parch = rng.poisson(0.4, n)
    fare = np.round(rng.lognormal(np.select([pclass == 1, pclass == 2], [4.2, 3.0], 2.3), 0.5), 4)
    embarked = rng.choice(["S", "C", "Q"], n, p=[0.72, 0.19, 0.09]).astype(object)
    embarked[rng.choice(n, 2, replace=False)] = np.nan
    cabin = np.where(
        (pclass == 1) & (rng.random(n) < 0.8), [f"C{k}" for k in rng.integers(1, 130, n)], None
    )
    logit = 1.2 * (sex == "female") * 2 - 0.9 * (pclass - 1) - 0.02 * np.nan_to_num(age, nan=30)
    survived = (rng.random(n) < 1 / (1 + np.exp(-(logit + 0.4)))).astype(int)
    titles = np.where(sex == "female", rng.choice(["Mrs.", "Miss."], n), "Mr.")
    names = [
        f"Surname{k}, {t} Given{k}" for k, t in zip(rng.integers(1, 900, n), titles, strict=True)
    ]
    return pd.DataFrame({
        "PassengerId": np.arange(1, n + 1), "Survived": survived, "Pclass": pclass,
        "Name": names, "Sex": sex, "Age": age, "SibSp": sibsp, "Parch": parch,
        "Fare": fare, "Cabin": cabin, "Embarked": embarked,
    })  # fmt: skip


def housing(rng: np.random.Generator, n: int = 2000) -> pd.DataFrame:
    lon = np.round(rng.uniform(-124.3, -114.3, n), 2)
    lat = np.round(rng.uniform(32.5, 42.0, n), 2)
    age = rng.integers(1, 53, n).astype(float)
    households = rng.integers(50, 1500, n)
    rooms = np.round(households * rng.normal(5.3, 1.0, n).clip(2)).astype(float)
    bedrooms = np.round(rooms * rng.normal(0.21, 0.03, n).clip(0.1)).astype(float)
    bedrooms[rng.random(n) < 0.01] = np.nan
    population = np.round(households * rng.normal(2.9, 0.6, n).clip(1)).astype(float)
    income = np.round(rng.lognormal(1.3, 0.45, n).clip(0.5, 15), 4)
    ocean = rng.choice(["<1H OCEAN", "INLAND", "NEAR OCEAN", "NEAR BAY", "ISLAND"], n,
                       p=[0.44, 0.32, 0.13, 0.108, 0.002])  # fmt: skip
    value = 45000 * income + 60000 * (ocean != "INLAND") + 800 * age + rng.normal(0, 40000, n)
    return pd.DataFrame({
        "longitude": lon, "latitude": lat, "housing_median_age": age, "total_rooms": rooms,
        "total_bedrooms": bedrooms, "population": population,
        "households": households.astype(float), "median_income": income,
        "median_house_value": np.round(value.clip(15000, 500001)), "ocean_proximity": ocean,
    })  # fmt: skip


def bikes(rng: np.random.Generator) -> pd.DataFrame:
    days = pd.date_range("2021-01-01", "2022-12-31", freq="D")
    t = np.arange(len(days))
    temp = np.round(12 + 9 * np.sin(2 * np.pi * (t - 100) / 365) + rng.normal(0, 3, len(t)), 1)
    rain = np.round(np.where(rng.random(len(t)) < 0.35, rng.exponential(4, len(t)), 0.0), 1)
    weekday = days.day_of_week < 5
    count = 2500 + 1500 * weekday + 80 * temp - 120 * rain + rng.normal(0, 300, len(t))
    return pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "temp_c": temp, "rain_mm": rain,
                         "count": np.round(count.clip(0)).astype(int)})  # fmt: skip


if __name__ == "__main__":
    rng = np.random.default_rng(20240601)
    passengers(rng).to_csv(HERE / "passengers.csv", index=False)
    housing(rng).to_csv(HERE / "housing.csv", index=False)
    bikes(rng).to_csv(HERE / "bikes.csv", index=False)
