// Opens Clientele's /docs in headless Chromium: every operation of
// openapi.yaml must be listed, no request may leave the machine, and a
// reader must be able to authorize with client credentials and try a call.
// Usage: node check.mjs BASE_URL OPENAPI_YAML SCREENSHOT CLIENT_ID CLIENT_SECRET
import fs from "node:fs";
import { chromium } from "playwright-core";
import YAML from "yaml";

const [base, specPath, screenshot, clientId, clientSecret] = process.argv.slice(2);
const spec = YAML.parse(fs.readFileSync(specPath, "utf8"));
const want = [];
for (const [path, item] of Object.entries(spec.paths)) {
  for (const method of ["get", "post", "put", "patch", "delete"]) {
    if (item[method]) want.push({ method, path, id: item[method].operationId });
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
const fail = (msg) => { console.error("FAIL: " + msg); failed = true; };
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const foreign = [];
  page.on("request", (r) => {
    const host = new URL(r.url()).hostname;
    if (!["127.0.0.1", "localhost", "[::1]"].includes(host) && !r.url().startsWith("data:")) foreign.push(r.url());
  });
  page.on("pageerror", (e) => fail("page error: " + e.message));
  await page.goto(base + "/docs", { waitUntil: "networkidle", timeout: 60000 });
  await page.waitForSelector(".opblock", { timeout: 30000 });

  const listed = await page.$$eval(".opblock", (els) => els.map((e) => ({
    method: (e.querySelector(".opblock-summary-method")?.textContent || "").trim().toLowerCase(),
    path: e.querySelector(".opblock-summary-path")?.getAttribute("data-path") || "",
  })));
  const missing = want.filter((w) => !listed.some((l) => l.method === w.method && l.path === w.path));
  for (const m of missing) fail(`operation ${m.id} (${m.method.toUpperCase()} ${m.path}) is not listed`);
  console.log(`${want.length - missing.length} of ${want.length} operations listed`);

  // Authorize with the client-credentials flow, then try listOauthClients.
  await page.click(".auth-wrapper .authorize");
  const modal = page.locator(".modal-ux");
  await modal.locator("input[data-name=clientId]").first().fill(clientId);
  await modal.locator("input[data-name=clientSecret]").first().fill(clientSecret);
  await modal.locator("button.authorize").first().click();
  await modal.locator("button:has-text('Logout')").first().waitFor({ timeout: 15000 });
  await modal.locator("button.btn-done, button:has-text('Close')").first().click();

  const op = page.locator("#operations-OAuth_Clients-listOauthClients");
  await op.locator(".opblock-summary").click();
  // Try-it-out may already be on; switch it on only when it is not.
  await op.locator("button.try-out__btn").waitFor({ timeout: 10000 });
  if ((await op.locator("button.execute").count()) === 0) await op.locator("button.try-out__btn").click();
  await op.locator("button.execute").click();
  const status = op.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor({ timeout: 15000 });
  const code = (await status.textContent()).trim();
  if (!code.startsWith("200")) fail(`trying listOauthClients answered ${code}`);
  else console.log("authorized with client credentials and listed the clients: " + code);

  await page.screenshot({ path: screenshot, fullPage: false });
  if (foreign.length) fail("requests left the machine: " + foreign.join(", "));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
