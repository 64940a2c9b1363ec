"""A synthetic checklist template for benchmarks: `count` items in chains, with photos and thresholds."""
from pathlib import Path

SEVERITIES = ("blocker", "major", "major", "minor", "minor")


def write_template(folder: Path, key: str, count: int, per_room_from: int | None = None) -> None:
    """Write `folder/<key>.toml`; items numbered from `per_room_from` on repeat in every room."""
    lines = [f'key = "{key}"', f'title = "Synthetic {key}"', "version = 1", ""]
    for n in range(count):
        per_room = per_room_from is not None and n >= per_room_from
        lines += ["[[items]]", f'key = "item-{n}"', f'title = "Check number {n}"', f'category = "Area {n % 12}"',
                  f'severity = "{SEVERITIES[n % 5]}"', f"due_days = {-(n % 30)}", f"photos = {n % 2}",
                  'guidance = "Do the thing and photograph it."', f"per_room = {'true' if per_room else 'false'}"]
        if n % 5:
            lines.append(f'depends_on = ["item-{n - 1}"]')
        if n % 7 == 0:
            lines += ["[items.thresholds]", 'speed_mbps = { min = 100, unit = "Mbps", label = "Speed" }']
        lines.append("")
    (folder / f"{key}.toml").write_text("\n".join(lines))
