#!/usr/bin/env node
// Verifies one Keyrack key and prints Keyrack's JSON answer: Node 20+, no dependencies.
//
//   KEYRACK_URL=https://keyrack.example.com KEYRACK_VERIFIER=krv_… KEYRACK_KEY=kro_… \
//   KEYRACK_PERMISSION=DEPLOY_PACKAGES node verify.mjs
//
// KEYRACK_PERMISSION and KEYRACK_IP are optional. Exit code: 0 for a valid key, 1 for a
// refused one (the answer says why), 2 when Keyrack could not answer. The key and the
// verifier token are never printed.

const { KEYRACK_URL, KEYRACK_VERIFIER, KEYRACK_KEY, KEYRACK_PERMISSION, KEYRACK_IP } =
  process.env;

if (!KEYRACK_URL || !KEYRACK_VERIFIER || !KEYRACK_KEY) {
  console.error("Set KEYRACK_URL, KEYRACK_VERIFIER and KEYRACK_KEY.");
  process.exit(2);
}

const body = { key: KEYRACK_KEY };
if (KEYRACK_PERMISSION) body.permission = KEYRACK_PERMISSION;
if (KEYRACK_IP) body.ip = KEYRACK_IP;

let response;
try {
  response = await fetch(new URL("/v1/keys/verify", KEYRACK_URL), {
    method: "POST",
    headers: {
      authorization: `Bearer ${KEYRACK_VERIFIER}`,
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
} catch (error) {
  console.error(`Keyrack could not be reached: ${error.cause?.code ?? error.name}`);
  process.exit(2);
}

const answer = await response.json().catch(() => null);
// 200 is a verdict; so is 429 when it carries a code (RATE_LIMITED).
if (answer === null || (response.status !== 200 && !answer.code)) {
  console.error(`Keyrack answered HTTP ${response.status}: ${answer?.error ?? "no JSON"}`);
  process.exit(2);
}
console.log(JSON.stringify(answer));
process.exit(answer.valid ? 0 : 1);
