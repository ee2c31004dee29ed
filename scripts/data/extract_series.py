"""Rebuild ``co2_monthly.csv`` and ``sunspots_yearly.csv`` from the statsmodels wheel (run once, by hand).

The course does not depend on statsmodels: this script reads the two CSV files inside its wheel with
the standard library only, e.g.::

    pip download --no-deps statsmodels -d /tmp/sm
    python scripts/data/extract_series.py /tmp/sm/statsmodels-*.whl companion/data/files

``statsmodels/datasets/co2/co2.csv`` holds weekly means of atmospheric CO2 at Mauna Loa (ppm, one row
per week ending on a Saturday, 29 March 1958 to 29 December 2001, an empty value for a week without
data). Each calendar month becomes the mean of its weeks that have a value, rounded to 0.01 ppm, with
the number of weeks it averages; a month with no week left is written with an empty value (five
months: 1958-06, 1958-10, 1964-02, 1964-03, 1964-04). ``statsmodels/datasets/sunspots/sunspots.csv``
holds the yearly mean sunspot number, 1700-2008, copied unchanged.
"""

import csv
import io
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

CO2 = "statsmodels/datasets/co2/co2.csv"
SUNSPOTS = "statsmodels/datasets/sunspots/sunspots.csv"


def read_csv(wheel: zipfile.ZipFile, name: str) -> list[list[str]]:
    with wheel.open(name) as f:
        return list(csv.reader(io.TextIOWrapper(f, encoding="utf-8")))[1:]  # the header row dropped


def monthly_co2(rows: list[list[str]]) -> list[tuple[int, int, str, int]]:
    weeks = defaultdict(list)
    months = []
    for date, value in rows:
        key = (int(date[:4]), int(date[4:6]))
        if key not in weeks:
            months.append(key)
        weeks[key].extend([float(value)] if value else [])
    # every calendar month from the first to the last, including months with no row at all
    (y0, m0), (y1, m1) = months[0], months[-1]
    out = []
    for index in range(y0 * 12 + m0 - 1, y1 * 12 + m1):
        year, month = divmod(index, 12)
        values = weeks.get((year, month + 1), [])
        mean = f"{sum(values) / len(values):.2f}" if values else ""
        out.append((year, month + 1, mean, len(values)))
    return out


def main(wheel_path: str, out_dir: str) -> None:
    out = Path(out_dir)
    with zipfile.ZipFile(wheel_path) as wheel:
        co2, spots = read_csv(wheel, CO2), read_csv(wheel, SUNSPOTS)
    with open(out / "co2_monthly.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["year", "month", "co2_ppm", "weeks"])
        writer.writerows(monthly_co2(co2))
    with open(out / "sunspots_yearly.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["year", "sunspots"])
        writer.writerows([int(year), value] for year, value in spots)


if __name__ == "__main__":
    main(*sys.argv[1:])
