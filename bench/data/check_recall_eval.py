#!/usr/bin/env python3
"""Checker for bench/data/recall-eval.json (mnemo recall evaluation set, issue 12 deliverable 5).

Run: python3 bench/data/check_recall_eval.py [path]   (exit 0 = no errors)

Checks
- shape: top-level keys, users (E.164 phone, IANA zone, distinct zones), memories, queries;
- ids unique; every expected id exists and belongs to the query's user; 1-3 expected ids for
  non-negative queries, none for negatives; minimum counts per user and per kind;
- occurred_at: RFC 3339 UTC ("...Z"), before `now`, within the ~5 weeks before it;
- time-scoped queries: the time phrase is parsed here independently with the engine's conventions
  (shared/src/timeparse.rs: days cut at local midnights in the user's zone; weeks start Monday;
  a weekday is the most recent one not after today; "last N days" is rolling and includes today;
  "since X" runs to the end of today; "in <Month>" is the most recent such month). Every expected
  memory must lie inside the range; the expected set must equal ALL of that user's memories in the
  range (no-topic question, at most 3) or all in the range that match the topic (TOPIC below).
  Rolling ranges are also checked under the other plausible readings ([now-N, now),
  [today-N, ...)), which must give the same set. The result under a naive UTC reading is reported
  so one sees which questions only pass when the user's zone is applied;
- non-time queries must not contain a time phrase (it would become a filter);
- paraphrase: no content word (after light stemming, stop words removed) shared with the text or
  labels of any expected memory (documented exceptions in PARAPHRASE_EXCEPTIONS);
- lexical: every expected memory shares a content word with the query, and at least one shared
  word is rare for that user (in <= 3 of the user's memories) or contains a digit.
"""
import json
import re
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

PATH = sys.argv[1] if len(sys.argv) > 1 else "bench/data/recall-eval.json"
MIN_MEMORIES, MIN_PER_USER = 170, 55
MIN_KIND = {"lexical": 35, "paraphrase": 35, "time": 30, "negative": 25}
MIN_QUERIES = 130

# Topic of each topic-bearing time-scoped question: a predicate over a memory. The expected set
# must be exactly the user's memories inside the range for which the predicate holds.
def _rx(pattern):
    r = re.compile(pattern, re.I)
    return lambda m: bool(r.search(m["text"]))

def _label(*names):
    return lambda m: any(l in names for l in m["labels"])

TOPIC = {
    "what did I note about the dentist last week?": _rx(r"dentist|hoffman|filling"),
    "receipts from last week": _rx(r"receipt"),
    "gift ideas in october": _rx(r"gift|present"),
    "what car stuff did i note this month?": _rx(r"\bcar\b|park|citation"),
    "what did i save about maya's school this week?": _rx(r"school|teacher|library|picture day|alvarez"),
    "any work todos in the last 3 days?": _label("work"),
    "any recipes since november 1?": _rx(r"recipe|sourdough"),
    "credit card bill last week?": _rx(r"hdfc|credit card|card bill"),
    "anything about amma's health in the last 10 days?": _rx(r"amma.*(sugar|hba1c|metformin|medicine|prescription|dr\.)|(metformin|hba1c|prescription).*amma"),
    "what did i note about cricket in october": _rx(r"cricket"),
    "which receipts did i photograph this month?": lambda m: m["kind"] == "image" and bool(re.search(r"receipt|bill from", m["text"], re.I)),
    "where did i park this week": _rx(r"park"),
    "any work stuff since november 9?": _label("work"),
    "what did i save about jonas last week?": _label("kids"),
    "spanish stuff this month": _rx(r"spanish|marisol|pretérito"),
    "receipts in october": _rx(r"receipt"),
    "what did i note about work on monday": _label("work"),
    "any bike things in the last 3 weeks": _rx(r"\bbike|\btire|radhaus"),
    "health stuff since november 1": _label("health"),
}

# Paraphrase questions allowed to share a word with their target, and why.
PARAPHRASE_EXCEPTIONS = {
    "where did I leave the car?": "verbatim question from issue 12 (its 'done when'); the match must come "
    "from 'leave' ~ 'parked' with 'car' also in carbonara/car-service distractors",
}

STOP = set("""
a an the and or but of to for in on at by with from about into as is are was were be been being am
it its it's this that these those there here i i'm im me my mine we our us you your he she her his they them
what what's whats where where's when when's which who who's whom how why did do does done doing
again any anything something stuff thing things note noted notes save saved send sent put write wrote
remember tell told get got have has had just so ok okay please up out then than can can't could should would
will was let if s t d
""".split())

TIME_WORDS = set("""today yesterday tonight tomorrow week weeks month months ago since weekend last this past
monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays thursdays fridays saturdays sundays
january february march april may june july august september october november december""".split())

MONTHS = {m: i for i, m in enumerate("january february march april may june july august september october november december".split(), 1)}
WEEKDAYS = {d: i for i, d in enumerate("monday tuesday wednesday thursday friday saturday sunday".split())}


def tokens(text):
    t = text.lower().replace("’", "'")
    t = re.sub(r"'s\b", "", t)
    return re.findall(r"[^\W_]+", t)


def stem(w):
    if w.isdigit():
        return w
    for suf, rep, minlen in (("ies", "y", 5), ("ing", "", 6), ("ed", "", 5), ("es", "", 5), ("s", "", 4)):
        if w.endswith(suf) and len(w) >= minlen and not w.endswith("ss"):
            w = w[: len(w) - len(suf)] + rep
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def content(text):
    return {stem(w) for w in tokens(text) if w not in STOP}


def parse_utc(s):
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s):
        raise ValueError(f"not RFC 3339 UTC with Z: {s!r}")
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def midnight(d, tz):
    return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(timezone.utc)


def time_ranges(text, now, tz):
    """Return (primary_range, [alternative readings], matched phrase) or None. Ranges are UTC [a, b)."""
    q = text.lower()
    today = now.astimezone(tz).date()
    tomorrow = midnight(today + timedelta(days=1), tz)
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)

    def days(a, b):
        return (midnight(a, tz), midnight(b, tz))

    m = re.search(r"\blast (\d+) (day|days|week|weeks)\b", q)
    if m:
        n = int(m.group(1)) * (7 if m.group(2).startswith("week") else 1)
        primary = (midnight(today - timedelta(days=n - 1), tz), tomorrow)
        alts = [(now - timedelta(days=n), now), (midnight(today - timedelta(days=n), tz), tomorrow)]
        return primary, alts, m.group(0)
    m = re.search(r"\bsince (" + "|".join(MONTHS) + r") (\d{1,2})\b", q)
    if m:
        d = date(today.year, MONTHS[m.group(1)], int(m.group(2)))
        if d > today:
            d = d.replace(year=d.year - 1)
        return (midnight(d, tz), tomorrow), [], m.group(0)
    m = re.search(r"\bin (" + "|".join(MONTHS) + r")\b", q)
    if m:
        mo = MONTHS[m.group(1)]
        y = today.year if mo <= today.month else today.year - 1
        a = date(y, mo, 1)
        b = date(y + (mo == 12), mo % 12 + 1, 1)
        return days(a, b), [], m.group(0)
    m = re.search(r"\bon (" + "|".join(WEEKDAYS) + r")\b", q)
    if m:
        back = (today.weekday() - WEEKDAYS[m.group(1)]) % 7
        if back == 0:
            raise ValueError(f"'on {m.group(1)}' asked on a {m.group(1)} is ambiguous (today?)")
        d = today - timedelta(days=back)
        return days(d, d + timedelta(days=1)), [], m.group(0)
    simple = {
        "today": lambda: days(today, today + timedelta(days=1)),
        "yesterday": lambda: days(today - timedelta(days=1), today),
        "this week": lambda: days(monday, today + timedelta(days=1)),
        "last week": lambda: days(monday - timedelta(days=7), monday),
        "this month": lambda: days(first, today + timedelta(days=1)),
        "last month": lambda: days((first - timedelta(days=1)).replace(day=1), first),
    }
    for phrase, f in simple.items():
        if re.search(r"\b" + phrase + r"\b", q):
            r = f()
            # "today"/"this week"/"this month" may also be read as ending at now
            alts = [(r[0], now)] if r[1] > now else []
            return r, alts, phrase
    return None


def main():
    errors, notes = [], []
    err = errors.append
    with open(PATH, encoding="utf-8") as f:
        data = json.load(f)
    if set(data) != {"now", "users", "memories", "queries"}:
        err(f"top-level keys are {sorted(data)}")
    now = parse_utc(data["now"])
    users = {}
    for u in data["users"]:
        if set(u) != {"key", "phone", "timezone"}:
            err(f"user keys {sorted(u)}")
        if u["key"] in users:
            err(f"duplicate user {u['key']}")
        if not re.fullmatch(r"\+[1-9]\d{7,14}", u["phone"]):
            err(f"user {u['key']}: phone {u['phone']} is not E.164")
        users[u["key"]] = ZoneInfo(u["timezone"])
    if len(users) < 2 or len({str(z) for z in users.values()}) != len(users):
        err("need >= 2 users in distinct zones")
    if len({u["phone"] for u in data["users"]}) != len(users):
        err("duplicate phone")

    mems, by_user = {}, defaultdict(list)
    for m in data["memories"]:
        if set(m) != {"id", "user", "kind", "text", "labels", "occurred_at"}:
            err(f"memory keys {sorted(m)}")
        if m["id"] in mems:
            err(f"duplicate memory id {m['id']}")
        if m["user"] not in users:
            err(f"{m['id']}: unknown user {m['user']}")
        if m["kind"] not in ("text", "image", "audio"):
            err(f"{m['id']}: kind {m['kind']}")
        if not m["text"].strip():
            err(f"{m['id']}: empty text")
        if not isinstance(m["labels"], list) or not all(isinstance(l, str) for l in m["labels"]):
            err(f"{m['id']}: labels must be a list of strings")
        try:
            m["_t"] = parse_utc(m["occurred_at"])
        except ValueError as e:
            err(f"{m['id']}: {e}")
            continue
        if not (now - timedelta(days=36) <= m["_t"] < now):
            err(f"{m['id']}: occurred_at {m['occurred_at']} outside the 5 weeks before now")
        mems[m["id"]] = m
        by_user[m["user"]].append(m)
    if len(set(m["text"].lower() for m in mems.values())) != len(mems):
        err("duplicate memory texts")
    if len(mems) < MIN_MEMORIES:
        err(f"only {len(mems)} memories (< {MIN_MEMORIES})")
    for u in users:
        if len(by_user[u]) < MIN_PER_USER:
            err(f"user {u}: only {len(by_user[u])} memories (< {MIN_PER_USER})")

    # document frequency of content words per user (text + labels)
    df = {u: Counter(w for m in ms for w in content(m["text"] + " " + " ".join(m["labels"]))) for u, ms in by_user.items()}

    qids, kinds = set(), Counter()
    per_user_kind = defaultdict(Counter)
    zone_sensitive = []
    neg_kinds = defaultdict(list)
    seen_text = set()
    for q in data["queries"]:
        qid = q["id"]
        if set(q) != {"id", "user", "kind", "text", "expected"}:
            err(f"{qid}: keys {sorted(q)}")
        if qid in qids:
            err(f"duplicate query id {qid}")
        qids.add(qid)
        if (q["user"], q["text"].lower()) in seen_text:
            err(f"{qid}: duplicate question for {q['user']}")
        seen_text.add((q["user"], q["text"].lower()))
        if q["user"] not in users:
            err(f"{qid}: unknown user")
            continue
        kind = q["kind"]
        if kind not in MIN_KIND:
            err(f"{qid}: kind {kind}")
            continue
        kinds[kind] += 1
        per_user_kind[q["user"]][kind] += 1
        exp = q["expected"]
        if len(set(exp)) != len(exp):
            err(f"{qid}: duplicate expected ids")
        for e in exp:
            if e not in mems:
                err(f"{qid}: expected {e} does not exist")
            elif mems[e]["user"] != q["user"]:
                err(f"{qid}: expected {e} belongs to {mems[e]['user']}, not {q['user']}")
        if kind == "negative":
            if exp:
                err(f"{qid}: negative with expected ids")
        elif not 1 <= len(exp) <= 3:
            err(f"{qid}: {len(exp)} expected ids (need 1-3)")
        exp_m = [mems[e] for e in exp if e in mems]
        tz = users[q["user"]]
        qc = content(q["text"])
        try:
            tr = time_ranges(q["text"], now, tz)
        except ValueError as e:
            err(f"{qid}: {e}")
            continue

        if kind != "time":
            if tr or (set(tokens(q["text"])) & TIME_WORDS):
                err(f"{qid}: non-time question contains a time word: {q['text']!r}")
        if kind == "time":
            if not tr:
                err(f"{qid}: no time phrase recognised in {q['text']!r}")
                continue
            (a, b), alts, phrase = tr
            rest = content(re.sub(r"\b" + re.escape(phrase) + r"\b", " ", q["text"].lower()))
            in_range = lambda r: {m["id"] for m in by_user[q["user"]] if r[0] <= m["_t"] < r[1]}
            topic = TOPIC.get(q["text"])
            if rest and topic is None:
                err(f"{qid}: topic words {sorted(rest)} but no TOPIC predicate for {q['text']!r}")
                continue
            if not rest and topic is not None:
                err(f"{qid}: TOPIC predicate given for a no-topic question")
            pick = (lambda ids: ids) if topic is None else (lambda ids: {i for i in ids if topic(mems[i])})
            want = pick(in_range((a, b)))
            for e in exp:
                if e in mems and not (a <= mems[e]["_t"] < b):
                    err(f"{qid}: expected {e} at {mems[e]['occurred_at']} is outside {phrase!r} = [{a:%Y-%m-%dT%H:%MZ}, {b:%Y-%m-%dT%H:%MZ})")
            if want != set(exp):
                err(f"{qid}: {q['text']!r}: expected {sorted(exp)} but the range [{a:%Y-%m-%dT%H:%MZ}, {b:%Y-%m-%dT%H:%MZ}) gives {sorted(want)}")
            if topic is None and len(in_range((a, b))) > 3:
                err(f"{qid}: no-topic range holds {len(in_range((a, b)))} memories (> 3)")
            for alt in alts:
                if pick(in_range(alt)) != want:
                    err(f"{qid}: {q['text']!r}: another reading of {phrase!r} [{alt[0]:%Y-%m-%dT%H:%MZ}, {alt[1]:%Y-%m-%dT%H:%MZ}) gives {sorted(pick(in_range(alt)))}")
            (ua, ub), _, _ = time_ranges(q["text"], now, ZoneInfo("UTC"))
            naive = pick(in_range((ua, ub)))
            if naive != want:
                zone_sensitive.append(f"{qid} [{q['user']}] {q['text']!r}: in UTC {sorted(naive)} vs in zone {sorted(want)}")
        elif kind == "paraphrase":
            for m in exp_m:
                shared = qc & content(m["text"] + " " + " ".join(m["labels"]))
                if shared:
                    if q["text"] in PARAPHRASE_EXCEPTIONS:
                        notes.append(f"{qid}: paraphrase shares {sorted(shared)} with {m['id']} (allowed: {PARAPHRASE_EXCEPTIONS[q['text']]})")
                    else:
                        err(f"{qid}: paraphrase {q['text']!r} shares {sorted(shared)} with {m['id']} {m['text']!r}")
        elif kind == "lexical":
            for m in exp_m:
                shared = qc & content(m["text"] + " " + " ".join(m["labels"]))
                if not shared:
                    err(f"{qid}: lexical {q['text']!r} shares no word with {m['id']} {m['text']!r}")
                elif not any(df[q["user"]][w] <= 3 or any(c.isdigit() for c in w) for w in shared):
                    err(f"{qid}: lexical {q['text']!r} shares only common words {sorted(shared)} with {m['id']}")
        elif kind == "negative":
            # Informational: where do the question's topic words occur?
            generic = content("number name recipe password code much due")
            topic_words = qc - generic
            own = sorted({w for m in by_user[q["user"]] for w in topic_words & content(m["text"] + " " + " ".join(m["labels"]))})
            others = sorted(u for u in by_user if u != q["user"] and any(topic_words & content(m["text"]) for m in by_user[u]))
            if others:
                cat = "topic in another user's memories" + (", near-miss words in own" if own else "")
            else:
                cat = "topic in nobody's memories" + (", near-miss words in own" if own else "")
            neg_kinds[cat].append(f"{qid} [{q['user']}] {q['text']!r}" + (f"  (own: {', '.join(own)}; others: {', '.join(others) or '-'})"))

    if len(qids) < MIN_QUERIES:
        err(f"only {len(qids)} queries (< {MIN_QUERIES})")
    for k, n in MIN_KIND.items():
        if kinds[k] < n:
            err(f"only {kinds[k]} {k} queries (< {n})")

    print(f"file: {PATH}")
    print(f"now: {data['now']}")
    print(f"memories: {len(mems)}  " + "  ".join(f"{u}={len(by_user[u])} ({users[u]}; " + ", ".join(f"{k}={c}" for k, c in sorted(Counter(m['kind'] for m in by_user[u]).items())) + ")" for u in users))
    print(f"queries: {len(qids)}  " + "  ".join(f"{k}={kinds[k]}" for k in MIN_KIND))
    for u in users:
        print(f"  {u}: " + "  ".join(f"{k}={per_user_kind[u][k]}" for k in MIN_KIND))
    print(f"time-scoped questions whose answer differs if the range is cut in UTC instead of the user's zone: {len(zone_sensitive)}")
    for z in zone_sensitive:
        print("  " + z)
    print("negatives by kind:")
    for k in sorted(neg_kinds):
        print(f"  {k}: {len(neg_kinds[k])}")
        for x in neg_kinds[k]:
            print("    " + x)
    for n in notes:
        print("note: " + n)
    if errors:
        print(f"ERRORS ({len(errors)}):")
        for e in errors:
            print("  " + e)
        sys.exit(1)
    print("OK: no errors")


if __name__ == "__main__":
    main()
