// Verifies webhook signatures made by Relay with the official Standard Webhooks JavaScript library.
//
// Input (stdin): one JSON object per line:
//   {"secret": "whsec_...", "id": "msg_...", "timestamp": 1700000000, "body_base64": "...",
//    "signature_header": "v1,... v1a,...", "public_key": "whpk_..." (optional), "expect": "valid" | "invalid"}
// `body` (a string) may be given instead of `body_base64`. `expect` defaults to "valid".
// With `public_key`, the `v1a` (Ed25519) entries must verify too (node:crypto; the official JavaScript
// library only implements `v1`).
//
// Output (stdout): one line per input, "ok <n> <id> <valid|invalid>" or "FAIL <n> <id>: <reason>".
// Exit status: 0 when every line met its expectation, 1 otherwise, 2 on unreadable input.
// The official library checks webhook-timestamp against the current time (5 minutes tolerance), so inputs
// must carry current timestamps.
import { createInterface } from "node:readline";
import { createPublicKey, verify as cryptoVerify } from "node:crypto";
import standardwebhooks from "standardwebhooks";

const { Webhook } = standardwebhooks;

function verifyV1a(publicKey, id, timestamp, body, signatureHeader) {
  if (!publicKey.startsWith("whpk_")) {
    throw new Error("public_key must start with whpk_");
  }
  const raw = Buffer.from(publicKey.slice(5), "base64");
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
  for (const entry of signatureHeader.split(" ")) {
    const [version, signature] = entry.split(",");
    if (version === "v1a" && signature && cryptoVerify(null, signed, key, Buffer.from(signature, "base64"))) {
      return true;
    }
  }
  return false;
}

let lineNo = 0;
let failures = 0;
const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (line.trim() === "") {
    continue;
  }
  lineNo += 1;
  let input;
  try {
    input = JSON.parse(line);
  } catch (err) {
    console.log(`FAIL ${lineNo} ?: input is not JSON: ${err.message}`);
    process.exitCode = 2;
    failures += 1;
    continue;
  }
  const expect = input.expect ?? "valid";
  const body = input.body_base64 !== undefined ? Buffer.from(input.body_base64, "base64") : Buffer.from(input.body ?? "");
  const headers = {
    "webhook-id": input.id,
    "webhook-timestamp": String(input.timestamp),
    "webhook-signature": input.signature_header,
  };
  let result = "valid";
  let reason = "";
  try {
    new Webhook(input.secret).verify(body, headers, { jsonParse: false });
    if (input.public_key && !verifyV1a(input.public_key, input.id, input.timestamp, body, input.signature_header)) {
      result = "invalid";
      reason = "no v1a signature verifies with the public key";
    }
  } catch (err) {
    result = "invalid";
    reason = `${err.name}: ${err.message}`;
  }
  if (result === expect) {
    console.log(`ok ${lineNo} ${input.id} ${result}`);
  } else {
    failures += 1;
    console.log(`FAIL ${lineNo} ${input.id}: expected ${expect}, got ${result}${reason ? ` (${reason})` : ""}`);
  }
}
if (failures > 0 && process.exitCode === undefined) {
  process.exitCode = 1;
}
