#!/bin/sh
# Regenerates the small voice-note clips the Whisper tests use (shared/tests/audio/).
# Needs Debian's espeak-ng, opus-tools and lame. The clips are checked in, so tests and CI do
# not need these tools; run this only to change them.
set -eu
out="$(dirname "$0")/../shared/tests/audio"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

say() { # voice text wav
  espeak-ng -v "$1" -s 150 -w "$3" "$2"
}

# A WhatsApp-like note: Ogg/Opus, mono, 24 kbps.
say en-us "Remember to buy oat milk and bananas, and call the dentist on Thursday at four." "$tmp/short.wav"
opusenc --quiet --bitrate 24 --downmix-mono "$tmp/short.wav" "$out/shopping.ogg"

# The same kind of note forwarded as an MP3.
say en-gb "The spare key is hidden under the blue flower pot by the garden gate." "$tmp/key.wav"
lame --quiet -m m -b 32 "$tmp/key.wav" "$out/key.mp3"

# About 70 seconds (more than two 30-second windows), 16 kbps, distinct words per part.
: > "$tmp/long.txt"
cat > "$tmp/long.txt" <<'TXT'
First, the plumber Gregory is coming on Monday morning to fix the kitchen sink.
Second, my sister Matilda lands at the airport on Friday at half past seven in the evening.
Third, the car needs new tyres before the long drive to Edinburgh next month.
Fourth, the library books about volcanoes and penguins are due back on the twelfth.
Fifth, the neighbours invited us to a barbecue on Saturday afternoon, bring lemonade.
Sixth, renew the passport and the insurance policy for the apartment before October.
Seventh, the dentist moved my appointment to Wednesday at eleven thirty.
Eighth, order a birthday cake with strawberries for grandmother Beatrice.
Ninth, the wifi password for the cottage is written on the fridge magnet.
Tenth, water the tomatoes and the basil every evening while we are away.
TXT
espeak-ng -v en-us -s 140 -g 6 -w "$tmp/long.wav" -f "$tmp/long.txt"
opusenc --quiet --bitrate 16 --downmix-mono "$tmp/long.wav" "$out/seventy.ogg"

# German speech, for the English-only model's confidence flag.
espeak-ng -v de -s 150 -w "$tmp/de.wav" "Morgen früh muss ich unbedingt zum Bahnhof fahren und meine Großmutter abholen, sie kommt aus München."
opusenc --quiet --bitrate 24 --downmix-mono "$tmp/de.wav" "$out/german.ogg"
