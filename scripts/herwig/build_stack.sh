#!/bin/bash
# Build LHAPDF 6.2.3 + ThePEG 2.3 + Herwig 7.3.0 for validating the Herwig adapter.
# Follows ../shared/herwig-build/build_herwig_stack.sh (the recipe and its workarounds),
# split into stages so that the long Herwig stage can be rerun alone, and with one
# change: instead of detaching 17 width generators from the May-2022 widths.in
# (fix_widths.py), Herwig's GenericWidthGenerator skips decay modes that the 7.3
# decay tables lack (patch_width_generator.py; docs/herwig.md).
#
# usage: W=/work/herwig-cache LHAPDF_GIT=.. THEPEG_GIT=.. HERWIG_GIT=.. \
#        STAGES="lhapdf thepeg herwig" scripts/herwig/build_stack.sh
# Build products stay under $W (never inside the repository).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RECIPE=${RECIPE:-$HERE/../../../shared/herwig-build}  # shared helper scripts
W=${W:?set W to the build cache folder (outside the repository)}; P=$W/install
STAGES=${STAGES:-lhapdf thepeg herwig}
OPT=${OPT:--O1}          # -O1: near -O2 run speed at a fraction of -O2's compile time
WIDTHS=${WIDTHS:-patch}  # patch: null check in GenericWidthGenerator; detach: fix_widths.py
J=${J:-2}; N="nice -n ${NICE:-10}"  # the shared machine: long jobs at nice 10
export PATH=$P/bin:$PATH
mkdir -p "$P"
has() { [[ " $STAGES " == *" $1 "* ]]; }
if [[ " $STAGES " == *" herwig-src "* ]]; then STAGES="$STAGES herwig"; ONLY_SRC=1; fi

if has lhapdf; then
  : "${LHAPDF_GIT:?set LHAPDF_GIT}"; rm -rf "$W/lhapdf"; mkdir -p "$W/lhapdf"
  git --git-dir="$LHAPDF_GIT" archive master | tar -x -C "$W/lhapdf"
  ( cd "$W/lhapdf" && $N autoreconf -i && $N ./configure --prefix="$P" --disable-python \
    CXXFLAGS="$OPT" && $N make -j"$J" && $N make install )
  python3 "$RECIPE/make_fake_lhapdf_set.py" "$P/share/LHAPDF" CT14lo CT14nlo
fi

if has thepeg; then
  : "${THEPEG_GIT:?set THEPEG_GIT}"; rm -rf "$W/thepeg"; mkdir -p "$W/thepeg"
  git --git-dir="$THEPEG_GIT" archive release-2-3 | tar -x -C "$W/thepeg"
  ( cd "$W/thepeg" && $N autoreconf -i && $N ./configure --prefix="$P" --with-lhapdf="$P" \
    --with-gsl=system --with-fastjet=/usr --with-hepmc=/usr --with-hepmcversion=3 \
    --without-javagui CXXFLAGS="$OPT" && $N make -j"$J" && $N make install )
fi

if has herwig; then
  : "${HERWIG_GIT:?set HERWIG_GIT}"
  # Source preparation (checkout, widths.in, patch, autoreconf) is skipped when a previous
  # run prepared the same variant (STAGES=herwig-src does only this part).
  if [ "$(cat "$W/herwig/.hadml-prepared" 2>/dev/null)" != "$WIDTHS" ]; then
    rm -rf "$W/herwig"; mkdir -p "$W/herwig"
    # src/defaults/widths.in of herwig-7-3 (blob 1522e35f) is absent from the mirror:
    # check out everything else, then use the newest present version (15e815c3, May 2022).
    export GIT_INDEX_FILE=$W/herwig.index
    git --git-dir="$HERWIG_GIT" --work-tree="$W/herwig" read-tree herwig-7-3
    git --git-dir="$HERWIG_GIT" --work-tree="$W/herwig" update-index --force-remove src/defaults/widths.in
    git --git-dir="$HERWIG_GIT" --work-tree="$W/herwig" checkout-index -a -f
    unset GIT_INDEX_FILE; rm -f "$W/herwig.index"
    git --git-dir="$HERWIG_GIT" cat-file -p 15e815c3b1fcec99eebb5fa34a2cf0be5e1e3700 > "$W/widths.in.2022-05"
    if [ "$WIDTHS" = detach ]; then
      python3 "$RECIPE/fix_widths.py" "$W/widths.in.2022-05" "$W/herwig/src/defaults/widths.in"
    else
      cp "$W/widths.in.2022-05" "$W/herwig/src/defaults/widths.in"
      python3 "$HERE/patch_width_generator.py" "$W/herwig"
    fi
    ( cd "$W/herwig" && $N autoreconf -i )
    echo "$WIDTHS" > "$W/herwig/.hadml-prepared"
  fi
fi
if has herwig && [ -z "${ONLY_SRC:-}" ]; then
  ( cd "$W/herwig" && $N ./configure --prefix="$P" --with-thepeg="$P" \
    --with-fastjet=/usr --with-gsl=system --disable-models \
    CXXFLAGS="$OPT -DBOOST_UBLAS_NDEBUG" && $N make -j"$J" && $N make install )
fi
