// Verifies one delivery with the npm libraries a customer would use, for
// e2e TestNodeVerifiers. Reads {secret, raw, headers, body (base64)} as JSON
// on stdin and prints {standardwebhooks, svix, xSignature}: "ok" or why not.
import { createHmac, timingSafeEqual } from "node:crypto";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const body = Buffer.from(input.body, "base64");
const headers = {};
for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v;
// A secret without the whsec_ prefix is raw bytes: {format: "raw"}.
const options = input.raw ? { format: "raw" } : undefined;

function attempt(f) {
  try {
    f();
    return "ok";
  } catch (e) {
    return String(e && e.message ? e.message : e);
  }
}

function xSignature() {
  const want = createHmac("sha256", input.secret).update(body).digest();
  const sent = [headers["x-signature"] ?? "", ...(headers["x-signature-next"] ?? "").split(" ")];
  const ok = sent.some((s) => {
    const got = Buffer.from(s, "hex");
    return got.length === want.length && timingSafeEqual(got, want);
  });
  if (!ok) throw new Error("no X-Signature or X-Signature-Next matches");
}

console.log(JSON.stringify({
  standardwebhooks: attempt(() => new StandardWebhook(input.secret, options).verify(body, headers)),
  svix: attempt(() => new SvixWebhook(input.secret, options).verify(body, headers)),
  xSignature: attempt(xSignature),
}));
