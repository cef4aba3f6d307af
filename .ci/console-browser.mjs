// Drives the console in Debian's chromium (playwright-core, never a downloaded browser).
// Usage: node console-browser.mjs <base-url> <screenshot-dir>
import { chromium } from "playwright-core";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import zlib from "node:zlib";

const [base, shots] = process.argv.slice(2);
const phone = "+14155550177";

function png(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => { let c = 0xffffffff; for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const rows = [];
  for (let y = 0; y < h; y++) {
    rows.push(0);
    for (let x = 0; x < w; x++) rows.push((x * 255 / w) | 0, (y * 255 / h) | 0, 160);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(Buffer.from(rows))), chunk("IEND", Buffer.alloc(0))]);
}

function check(cond, what) {
  if (!cond) throw new Error("assertion failed: " + what);
  console.log("ok - " + what);
}

// A fresh --user-data-dir per run (playwright passes it from the first argument).
const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "mnemo-chromium-")), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1100, height: 760 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
const page = await browser.newPage();
try {
  await page.goto(base + "/console/chat");
  await page.fill("#phone", phone);
  await page.dispatchEvent("#phone", "change");
  const outbound = () => page.locator(".msg.outbound");

  // 1. A text note.
  await page.fill("#text", "The spare key is under the blue flowerpot");
  await page.click("#send");
  await page.locator(".msg.inbound", { hasText: "blue flowerpot" }).waitFor({ timeout: 15000 });
  await outbound().first().waitFor({ timeout: 20000 });
  await page.waitForFunction(() => document.querySelectorAll(".msg.outbound").length >= 1);
  const first = await outbound().last().innerText();
  check(/Saved/.test(first) && /blue flowerpot/.test(first), "text note is confirmed: " + JSON.stringify(first.split("\n")[0]));
  check(first.includes("I'll use America/Los_Angeles time"), "the welcome names the zone inferred from +1 415");
  check(!first.includes("*"), "the reply's markup is shown as formatting, not asterisks");
  await page.screenshot({ path: join(shots, "1-chat-text.png") });

  // 2. A photo generated on the fly, with a caption.
  const photo = join(mkdtempSync(join(tmpdir(), "mnemo-photo-")), "bike.png");
  writeFileSync(photo, png(96, 64));
  await page.setInputFiles("#file", photo);
  await page.fill("#text", "my red bike");
  await page.click("#send");
  await page.locator(".msg.inbound img").first().waitFor({ timeout: 15000 });
  await page.waitForFunction(() => document.querySelectorAll(".msg.outbound").length >= 2, null, { timeout: 20000 });
  const second = await outbound().nth(1).innerText();
  check(/Saved/.test(second) && /photo/i.test(second), "photo is answered: " + JSON.stringify(second.split("\n")[0]));
  const imgOk = await page.evaluate(() => { const i = document.querySelector(".msg.inbound img"); return i.complete && i.naturalWidth === 96; });
  check(imgOk, "the sent photo is shown from /console/media/{id} (96 px wide)");
  await page.screenshot({ path: join(shots, "2-chat-photo.png") });

  // 3. A question about the note.
  await page.fill("#text", "where is the spare key?");
  await page.click("#send");
  await page.waitForFunction(() => document.querySelectorAll(".msg.outbound").length >= 3, null, { timeout: 20000 });
  const third = await outbound().nth(2).innerText();
  check(/flowerpot/i.test(third), "the question is answered from the note: " + JSON.stringify(third.split("\n")[0]));
  // The browser runs in UTC; the user is in Los Angeles. The note's bubble and the answer's
  // "📝 note · Thu 3 Dec, 05:19" show the same local time.
  const noteMeta = await page.locator(".msg.inbound", { hasText: "blue flowerpot" }).locator(".meta").innerText();
  const noteClock = (noteMeta.split(" · ")[0].match(/\d\d:\d\d$/) || [""])[0];
  check(noteClock !== "" && third.includes(", " + noteClock), `bubble time ${noteMeta} is the answer's time, in the user's zone`);
  await page.screenshot({ path: join(shots, "3-chat-question.png") });

  // 4. The dashboard: the chart renders with the right totals.
  const api = await (await page.request.get(base + "/console/api/dashboard")).json();
  await page.goto(base + "/console");
  await page.waitForSelector("body[data-loaded=true]", { timeout: 10000 });
  await page.waitForSelector("svg#memory-chart");
  const total = Number(await page.getAttribute("svg#memory-chart", "data-total"));
  const rectSum = await page.evaluate(() => [...document.querySelectorAll("svg#memory-chart rect[data-count]")]
    .reduce((s, r) => s + Number(r.dataset.count), 0));
  check(api.summary.memories.total === 2, "two memories stored (note + photo), got " + api.summary.memories.total);
  // Once the worker downloads MediaUrlN from the console host (Settings::media_hosts), the
  // photo is a stored object: run with CONSOLE_EXPECT_STORED_MEDIA=1 to assert it.
  if (process.env.CONSOLE_EXPECT_STORED_MEDIA === "1") {
    check(api.summary.media.unique_objects === 1 && api.summary.media.references === 1,
      "the photo was downloaded from /console/media and stored once");
  }
  check(total === api.summary.memories.total && rectSum === total, `chart total ${total} = bars ${rectSum} = API ${api.summary.memories.total}`);
  check(await page.textContent("#t-memories") === String(api.summary.memories.total), "memories total shown");
  check(await page.textContent("#t-interactions") === "6", "6 interactions shown (3 in, 3 out)");
  const dirs = await page.textContent("#directions");
  check(/inbound\s*3/.test(dirs) && /outbound\s*3/.test(dirs), "interactions by direction: 3 in, 3 out");
  check((await page.locator("#latest tbody tr").count()) === 6, "latest interactions table has 6 rows");
  await page.screenshot({ path: join(shots, "4-dashboard.png"), fullPage: true });

  // 5. Drill-down to the user.
  await page.goto(base + "/console?user=" + encodeURIComponent(phone));
  await page.waitForSelector("body[data-loaded=true]");
  check((await page.textContent("#scope")).includes(phone), "drill-down shows the user");
  await page.screenshot({ path: join(shots, "5-dashboard-user.png"), fullPage: true });

  // 6. Rendering, on figures of our own: a tallest bar of 3 (gridlines 0, 1.5, 3), markup in the
  // latest interactions, times in the dashboard's zone.
  const fake = JSON.parse(JSON.stringify(api));
  fake.timezone = "Asia/Kolkata";
  fake.memories_by_day = [
    { day: "2026-11-12", kind: "text", count: 2 }, { day: "2026-11-12", kind: "image", count: 1 },
    { day: "2026-11-13", kind: "text", count: 1 }];
  fake.latest = [Object.assign({}, api.latest[0], {
    body: "🗂 *Your notes*, newest first:\n_soon_ ~old~ America/New_York 5 * 3", occurred_at: "2026-11-12T03:44:00Z" })];
  await page.route("**/console/api/dashboard*", (route) => route.fulfill({ json: fake }));
  await page.goto(base + "/console");
  await page.waitForSelector("body[data-loaded=true]");
  const ticks = await page.$$eval("svg#memory-chart text[text-anchor=end]", (ts) => ts.map((t) => t.textContent));
  check(JSON.stringify(ticks) === JSON.stringify(["0", "1.5", "3"]), "gridlines are labelled exactly: " + ticks.join(", "));
  const tops = await page.$$eval("svg#memory-chart text.day-total", (ts) => ts.map((t) => [t.textContent, t.getBBox().y]));
  check(tops.length === 2 && tops.every((t) => t[1] >= 0), "every day's total is inside the chart: " + JSON.stringify(tops));
  const cell = page.locator("#latest tbody tr td.body").first();
  check(await cell.locator("b").innerText() === "Your notes" && await cell.locator("i").innerText() === "soon" &&
    await cell.locator("s").innerText() === "old", "WhatsApp markup is shown as bold, italic and strikethrough");
  const shown = await cell.innerText();
  check(shown.includes("5 * 3") && !/[*_~]/.test(shown.replace("5 * 3", "").replace("America/New_York", "")),
    "no raw markers; a lone * stays: " + JSON.stringify(shown));
  check(shown.includes("America/New_York"), "an underscore inside a word is not markup");
  check(await page.textContent("#latest tbody tr td") === "Thu 12 Nov, 09:14", "the latest interactions are timed in the dashboard's zone");
  check((await page.textContent("#zone")).includes("Asia/Kolkata"), "the chart names its zone");
  await page.screenshot({ path: join(shots, "6-dashboard-rendering.png"), fullPage: true });
} catch (e) {
  failed = true;
  console.error("FAILED:", e.message);
  await page.screenshot({ path: join(shots, "failure.png") }).catch(() => {});
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
