#!/usr/bin/env bash
# Rebuilds the embedded fonts from Debian packages. Needs root (apt) and pip's fonttools.
# The outputs are committed; run this only to change the font set.
set -euo pipefail
cd "$(dirname "$0")"
apt-get install -y -qq fonts-jetbrains-mono fonts-dejavu-core fonts-wqy-microhei fonts-symbola >/dev/null
python3 -m pip install -q fonttools
cp /usr/share/fonts/truetype/jetbrains-mono/JetBrainsMono-{Regular,Bold,Italic}.ttf .
cp /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf .
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# WenQuanYi Micro Hei: keep the Mono face (index 1) and only the CJK ranges; our grid
# places every glyph itself, so hinting and OpenType layout tables are dead weight.
python3 - "$tmp" <<'PY'
import sys
from fontTools.ttLib import TTCollection
TTCollection('/usr/share/fonts/truetype/wqy/wqy-microhei.ttc').fonts[1].save(sys.argv[1] + '/wqy-mono.ttf')
PY
pyftsubset "$tmp/wqy-mono.ttf" --no-hinting --layout-features='' \
  --unicodes="U+3000-303F,U+3040-30FF,U+3100-312F,U+3130-318F,U+31F0-31FF,U+3200-33FF,U+3400-4DBF,U+4E00-9FFF,U+AC00-D7AF,U+1100-11FF,U+F900-FAFF,U+FE30-FE4F,U+FF00-FFEF" \
  --output-file=WenQuanYiMicroHeiMono-CJK.ttf
# Symbola: emoji and symbols that neither JetBrains Mono nor DejaVu Sans Mono has.
python3 - "$tmp" <<'PY'
import sys
from fontTools.ttLib import TTFont
have = set()
for f in ['JetBrainsMono-Regular.ttf', 'DejaVuSansMono.ttf']:
    have |= set(TTFont(f).getBestCmap())
sym = TTFont('/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf').getBestCmap()
ranges = [(0x2190, 0x21FF), (0x2300, 0x23FF), (0x2460, 0x24FF), (0x25A0, 0x27BF),
          (0x2900, 0x297F), (0x2B00, 0x2BFF), (0x1F000, 0x1FAFF)]
want = sorted(c for c in sym if c not in have and any(a <= c <= b for a, b in ranges))
open(sys.argv[1] + '/sym.txt', 'w').write(','.join('U+%04X' % c for c in want))
PY
pyftsubset /usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf --no-hinting \
  --layout-features='' --unicodes-file="$tmp/sym.txt" --output-file=Symbola-emoji.ttf
ls -l ./*.ttf
