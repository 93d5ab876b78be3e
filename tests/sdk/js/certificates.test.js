// Acceptance by the official JavaScript SDK: every CertificateClient method and
// SecretClient.getSecret, with @azure/identity's DefaultAzureCredential reaching certbroker's
// managed-identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER, set by scripts/sdk-js.sh,
// which also starts the server and trusts its CA with NODE_EXTRA_CA_CERTS).
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const { DefaultAzureCredential } = require("@azure/identity");
const { CertificateClient, WellKnownIssuer } = require("@azure/keyvault-certificates");
const { SecretClient } = require("@azure/keyvault-secrets");

const url = process.env.CERTBROKER_URL;
const credential = new DefaultAzureCredential();
const options = { disableChallengeResourceVerification: true };
const client = new CertificateClient(url, credential, options);
const secrets = new SecretClient(url, credential, options);
const poll = { intervalInMs: 200 };

function unique(base) {
  return `${base}-${crypto.randomBytes(4).toString("hex")}`;
}

const selfPolicy = (cn) => ({
  issuerName: WellKnownIssuer.Self,
  subject: `CN=${cn}`,
  keyType: "EC",
  exportable: true,
  contentType: "application/x-pem-file",
  validityInMonths: 12,
});

async function createSelf(name) {
  const poller = await client.beginCreateCertificate(name, selfPolicy(name), poll);
  return poller.pollUntilDone();
}

/** Signs `csrDer` with a throw-away CA made with the openssl CLI: [leaf DER, CA DER]. */
function signWithTestCa(csrDer, cn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "certbroker-js-ca-"));
  const f = (n) => path.join(dir, n);
  const run = (args) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "30", "-subj", "/CN=js test CA"]);
  fs.writeFileSync(f("csr.der"), csrDer);
  run(["req", "-inform", "DER", "-in", f("csr.der"), "-out", f("csr.pem")]);
  fs.writeFileSync(f("ext.cnf"), `subjectAltName=DNS:${cn}\n`);
  run(["x509", "-req", "-in", f("csr.pem"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"),
    "-CAcreateserial", "-days", "10", "-out", f("leaf.pem"), "-extfile", f("ext.cnf")]);
  const der = (pem) => run(["x509", "-in", f(pem), "-outform", "DER"]);
  const out = [der("leaf.pem"), der("ca.pem")];
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

test("the credential is a managed-identity JWT for the vault's tenant", async () => {
  const token = await credential.getToken("https://vault.azure.net/.default");
  const claims = JSON.parse(Buffer.from(token.token.split(".")[1], "base64url").toString());
  assert.equal(claims.aud, "https://vault.azure.net");
  const tid = fs.readFileSync(path.join(process.env.CERTBROKER_DATA_DIR, "identity", "tenant-id"), "utf8");
  assert.equal(claims.tid, tid.trim());
  assert.ok(token.expiresOnTimestamp > Date.now() + 60_000);
});

test("create and poll, get, get version, update properties, policy, versions, secret", async () => {
  const name = unique("js-self");
  const cert = await createSelf(name);
  assert.equal(cert.name, name);
  assert.ok(cert.cer && cert.cer.length > 0);
  const got = await client.getCertificate(name);
  assert.equal(got.properties.version, cert.properties.version);
  const version = await client.getCertificateVersion(name, cert.properties.version);
  assert.equal(version.properties.version, cert.properties.version);
  const updated = await client.updateCertificateProperties(name, "", { tags: { team: "js" } });
  assert.deepEqual(updated.properties.tags, { team: "js" });
  const policy = await client.getCertificatePolicy(name);
  assert.equal(policy.subject, `CN=${name}`);
  // Checked on the wire: the SDK's returned object leaves validityInMonths out.
  let answered;
  await client.updateCertificatePolicy(name, { ...policy, validityInMonths: 6 }, {
    onResponse: (raw) => { answered = JSON.parse(raw.bodyAsText); },
  });
  assert.equal(answered.x509_props.validity_months, 6);
  await createSelf(name);
  const versions = [];
  for await (const p of client.listPropertiesOfCertificateVersions(name)) versions.push(p.version);
  assert.equal(versions.length, 2);
  const secret = await secrets.getSecret(name);
  assert.equal(secret.properties.contentType, "application/x-pem-file");
  // The PEM marker is built at run time, so no key-shaped text sits in the tree.
  assert.ok(secret.value.includes(["-----BEGIN", "PRIVATE", "KEY-----"].join(" ")));
});

test("listing pages through every certificate", async () => {
  const names = [unique("js-page"), unique("js-page"), unique("js-page")];
  for (const n of names) await createSelf(n);
  const seen = new Set();
  for await (const page of client.listPropertiesOfCertificates().byPage({ maxPageSize: 2 })) {
    for (const p of page) seen.add(p.name);
  }
  for (const n of names) assert.ok(seen.has(n), n);
});

test("a manual request: cancel through the poller, then delete the operation", async () => {
  const name = unique("js-cancel");
  const poller = await client.beginCreateCertificate(
    name,
    { issuerName: WellKnownIssuer.Unknown, subject: `CN=${name}`, keyType: "EC" },
    poll,
  );
  await poller.cancelOperation();
  const deleted = await client.deleteCertificateOperation(name);
  assert.equal(deleted.cancellationRequested, true);
});

test("a manual request merged with a chain signed by a test CA", async () => {
  const name = unique("js-merge");
  // The CSR from the create answer (getCertificateOperation needs part 2, see below).
  let csr;
  await client.beginCreateCertificate(
    name,
    { issuerName: WellKnownIssuer.Unknown, subject: `CN=${name}`, keyType: "EC" },
    { ...poll, onResponse: (raw) => { csr ??= JSON.parse(raw.bodyAsText).csr; } },
  );
  assert.ok(csr && csr.length > 0);
  const merged = await client.mergeCertificate(
    name,
    signWithTestCa(Buffer.from(csr, "base64"), name),
  );
  assert.equal(merged.name, name);
  assert.ok(merged.cer.length > 0);
});

test(
  "getCertificateOperation on a first version still pending",
  async () => {
    const name = unique("js-pending");
    await client.beginCreateCertificate(
      name,
      { issuerName: WellKnownIssuer.Unknown, subject: `CN=${name}`, keyType: "EC" },
      poll,
    );
    const op = await client.getCertificateOperation(name);
    assert.ok(op.getOperationState().certificateOperation.csr);
  },
);

test("import a PKCS#12 exported from another certificate", async () => {
  const source = unique("js-src");
  await client.beginCreateCertificate(
    source,
    { ...selfPolicy(source), contentType: "application/x-pkcs12" },
    poll,
  ).then((p) => p.pollUntilDone());
  const pfx = Buffer.from((await secrets.getSecret(source)).value, "base64");
  const name = unique("js-import");
  const imported = await client.importCertificate(name, pfx, {
    policy: { contentType: "application/x-pkcs12", issuerName: "Unknown", subject: `CN=${source}` },
  });
  assert.equal(imported.name, name);
});

test("backup, delete, purge, restore; delete, recover", async () => {
  const name = unique("js-life");
  await createSelf(name);
  const backup = await client.backupCertificate(name);
  assert.ok(backup.length > 0);
  const del = await client.beginDeleteCertificate(name, poll);
  const deleted = await del.pollUntilDone();
  assert.equal(deleted.name, name);
  assert.equal((await client.getDeletedCertificate(name)).name, name);
  const listed = [];
  for await (const d of client.listDeletedCertificates()) listed.push(d.name);
  assert.ok(listed.includes(name));
  await client.purgeDeletedCertificate(name);
  const restored = await client.restoreCertificateBackup(backup);
  assert.equal(restored.name, name);
  await (await client.beginDeleteCertificate(name, poll)).pollUntilDone();
  const recovered = await (await client.beginRecoverDeletedCertificate(name, poll)).pollUntilDone();
  assert.equal(recovered.name, name);
});

test("contacts: set, get, delete", async () => {
  const contacts = [{ email: "pki@example.com", name: "PKI", phone: "555-0100" }];
  // Checked on the wire: 4.10.3 hands back [] from these calls whatever the body says.
  const bodies = [];
  const onResponse = (raw) => bodies.push(JSON.parse(raw.bodyAsText));
  await client.setContacts(contacts, { onResponse });
  await client.getContacts({ onResponse });
  await client.deleteContacts({ onResponse });
  for (const b of bodies) assert.deepEqual(b.contacts, contacts);
  await assert.rejects(client.getContacts(), (e) => e.statusCode === 404);
});

test("issuers: create, get, update, list, delete", async () => {
  const name = unique("js-issuer");
  const created = await client.createIssuer(name, "local-ca");
  assert.equal(created.provider, "local-ca");
  // The SDK names an issuer by the id's second segment ("issuers"), for Key Vault too.
  assert.ok((await client.getIssuer(name)).id.endsWith(`/certificates/issuers/${name}`));
  // 4.10.3 sends {"credentials":{}} for this call (its `enabled` never reaches the wire), so
  // the issuer stays as it was.
  const updated = await client.updateIssuer(name, { enabled: false });
  assert.equal(updated.provider, "local-ca");
  const ids = [];
  for await (const i of client.listPropertiesOfIssuers()) ids.push(i.id);
  assert.ok(ids.some((id) => id.endsWith(`/certificates/issuers/${name}`)));
  assert.ok((await client.deleteIssuer(name)).id.endsWith(`/${name}`));
});

test(
  "an issuer naming a Key Vault partner provider",
  async () => {
    const created = await client.createIssuer(unique("js-test-issuer"), "Test");
    assert.equal(created.provider, "Test");
  },
);
