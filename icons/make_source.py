"""Draws icons/source.png, the master the platform icons are generated from
(`npx tauri icon ../icons/source.png -o ../icons` in ui/)."""
from pathlib import Path

from PIL import Image, ImageDraw

S = 1024
img = Image.new("RGBA", (S, S), (0, 0, 0, 0))
d = ImageDraw.Draw(img)
# Rounded tile with a vertical blue gradient.
tile = Image.new("RGBA", (S, S))
td = ImageDraw.Draw(tile)
for y in range(S):
    t = y / S
    td.line([(0, y), (S, y)], fill=(int(18 + 20 * t), int(92 - 40 * t), int(200 - 60 * t), 255))
mask = Image.new("L", (S, S), 0)
ImageDraw.Draw(mask).rounded_rectangle([40, 40, S - 40, S - 40], radius=200, fill=255)
img.paste(tile, (0, 0), mask)
# Motion arcs on both sides of the lens.
for i, r in enumerate((300, 370, 440)):
    alpha = 230 - i * 60
    box = [S / 2 - r, S / 2 - r, S / 2 + r, S / 2 + r]
    d.arc(box, 145, 215, fill=(255, 255, 255, alpha), width=34)
    d.arc(box, -35, 35, fill=(255, 255, 255, alpha), width=34)
# The lens.
c = S / 2
d.ellipse([c - 210, c - 210, c + 210, c + 210], fill=(245, 247, 250, 255))
d.ellipse([c - 150, c - 150, c + 150, c + 150], fill=(22, 30, 48, 255))
d.ellipse([c - 80, c - 80, c + 80, c + 80], fill=(40, 120, 230, 255))
d.ellipse([c - 60, c - 95, c - 10, c - 45], fill=(255, 255, 255, 220))
# Red "recording" dot.
dot = (c + 165, c - 235)  # between the lens and the arcs, clear of both
d.ellipse([dot[0] - 38, dot[1] - 38, dot[0] + 38, dot[1] + 38], fill=(235, 64, 52, 255))
img.save(Path(__file__).with_name("source.png"))
