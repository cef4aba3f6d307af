// What both console pages share: WhatsApp markup shown as formatting, and times in one zone.
(function () {
  "use strict";

  var TAGS = { "*": "b", "_": "i", "~": "s" };
  var WORD = /[\p{L}\p{N}]/u;
  var SPACE = /\s/u;

  // The styled spans of one line, read as WhatsApp reads them (the same rules as
  // shared/src/domain/markup.rs): a marker opens at the line's start or after a character that
  // is not a letter or digit, before a non-space; it closes at the next same marker after a
  // non-space that no letter or digit follows. `chars` is the line as code points.
  function spans(chars) {
    var out = [];
    Object.keys(TAGS).forEach(function (m) {
      var i = 0;
      while (i < chars.length) {
        var before = i > 0 ? chars[i - 1] : null, after = chars[i + 1];
        if (chars[i] === m && (before === null || !WORD.test(before)) &&
            after !== undefined && !SPACE.test(after) && after !== m) {
          var close = -1;
          for (var j = i + 2; j < chars.length; j++) {
            var b = chars[j - 1], a = chars[j + 1];
            if (chars[j] === m && !SPACE.test(b) && b !== m && (a === undefined || !WORD.test(a))) { close = j; break; }
          }
          if (close > 0) { out.push({ start: i, end: close, tag: TAGS[m] }); i = close + 1; continue; }
        }
        i++;
      }
    });
    return out.sort(function (x, y) { return x.start - y.start; });
  }

  // `text` with its markup as <b>, <i> and <s> elements (text nodes only, never HTML) in `box`.
  // A span inside another stays as it was written: WhatsApp does not nest them either.
  function format(text, box) {
    String(text).split("\n").forEach(function (line, n) {
      if (n > 0) box.appendChild(document.createTextNode("\n"));
      var chars = Array.from(line), at = 0;
      spans(chars).forEach(function (s) {
        if (s.start < at) return;
        if (s.start > at) box.appendChild(document.createTextNode(chars.slice(at, s.start).join("")));
        var e = document.createElement(s.tag);
        e.textContent = chars.slice(s.start + 1, s.end).join("");
        box.appendChild(e);
        at = s.end + 1;
      });
      if (at < chars.length) box.appendChild(document.createTextNode(chars.slice(at).join("")));
    });
    return box;
  }

  // A moment in `zone` (IANA; the browser's own when unknown), as the replies write it:
  // "09:14" on the day it is now in that zone, else "Thu 12 Nov, 09:14".
  function when(iso, zone) {
    var t = new Date(iso), opts = { timeZone: zone || undefined };
    function parts(d, o) {
      var p = {};
      new Intl.DateTimeFormat("en-US", Object.assign({}, opts, o)).formatToParts(d)
        .forEach(function (x) { p[x.type] = x.value; });
      return p;
    }
    var day = { year: "numeric", month: "2-digit", day: "2-digit" };
    var a = parts(t, day), b = parts(new Date(), day);
    var p = parts(t, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    var clock = p.hour + ":" + p.minute;
    if (a.year === b.year && a.month === b.month && a.day === b.day) return clock;
    return p.weekday + " " + p.day + " " + p.month + ", " + clock;
  }

  window.mnemoConsole = { format: format, spans: spans, when: when };
})();
