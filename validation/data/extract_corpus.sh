#!/usr/bin/env bash
# How the bundled corpus was made (kept for provenance; the text files are committed, so a
# build never runs this). Needs Debian's bible-kjv and bible-kjv-text packages.
#   kjv-base.txt    Genesis and Exodus: the tiny model's training text (its last chapters are the
#                   held-out split, chosen by the trainer)
#   kjv-proverbs.txt Proverbs: the "in-domain" text good adapters are fine-tuned on
# One verse per line, the verse reference removed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
extract() { bible -f "$1" | sed -E 's/^[^ ]+ //' ; }
extract "Gen1:1-Ex40:38" > kjv-base.txt
extract "Pr1:1-Pr31:31" > kjv-proverbs.txt
sha256sum kjv-base.txt kjv-proverbs.txt
