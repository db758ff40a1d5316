#!/usr/bin/env bash
# Regenerates build/appicon.png and build/windows/icon.ico (needs ImageMagick): a rounded blue
# square, a white "F" over a wave. build/appicon.svg is the same drawing, for the Linux packages.
set -euo pipefail
cd "$(dirname "$0")"
wave=$(awk 'BEGIN { for (i = 0; i <= 120; i++) printf "%d,%d ", 504 + i * 1040 / 120, 1568 - 64 * sin(i / 120 * 4 * 3.14159265) }')
convert -size 2048x2048 -define gradient:direction=SouthEast gradient:'#3b82f6'-'#1e40af' \
  \( -size 2048x2048 xc:none -fill white -draw "roundrectangle 128,128 1919,1919 416,416" \) \
  -compose DstIn -composite -compose Over \
  -fill none -stroke white -strokewidth 224 \
  -draw "stroke-linecap round stroke-linejoin round path 'M 784 1232 L 784 576 L 1312 576 M 784 924 L 1128 924'" \
  -stroke '#dbeafe' -strokewidth 112 \
  -draw "fill none stroke-linecap round stroke-linejoin round polyline $wave" \
  -resize 1024x1024 -strip PNG32:appicon.png
# The Windows icon: PNG at 256 px, bitmaps below, as Windows and the installer expect.
convert appicon.png -strip -define png:exclude-chunks=date,time \
  -define icon:auto-resize=256,128,64,48,32,16 windows/icon.ico
