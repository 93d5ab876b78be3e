#!/usr/bin/env bash
# The az CLI end to end (azure-cli from PyPI, pinned, in a cached venv under target/az-venv):
# the README's recipe against the real `certbroker serve` binary: cloud register, az login
# --identity, certificate create (Self), list, pending show on an Unknown-issuer request,
# pending merge with a chain signed by a test CA, show, delete, asserting on az's JSON.
# az builds https://<vault>.vault.localhost:<port> for --vault-name; that name is mapped for
# the az processes only, by a private /etc/hosts in a mount namespace (`unshare -m`, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "scripts/sdk-az.sh maps the vault host names with a private mount namespace: run it as root" >&2
  exit 1
fi
AZ_CLI_VERSION=2.91.0
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR=$PWD/$TARGET_DIR ;; esac
VENV=$TARGET_DIR/az-venv
if [ "$(cat "$VENV/.version" 2>/dev/null)" != "$AZ_CLI_VERSION" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "azure-cli==$AZ_CLI_VERSION"
  echo "$AZ_CLI_VERSION" > "$VENV/.version"
fi
# One server for the suite, with the plain-HTTP managed-identity listener.
. scripts/lib/serve.sh
start_certbroker sdk-az
PORT=${URL##*:}
TID=$(cat "$WORK/data/identity/tenant-id")
VAULT=cbaz
printf '127.0.0.1 localhost\n127.0.0.1 %s.vault.localhost\n' "$VAULT" > "$WORK/hosts"

export AZURE_CONFIG_DIR=$WORK/az
export AZURE_CORE_COLLECT_TELEMETRY=false
export AZURE_CORE_NO_COLOR=true
export REQUESTS_CA_BUNDLE=$WORK/data/tls/ca.pem
export SSL_CERT_FILE=$WORK/data/tls/ca.pem
export IDENTITY_ENDPOINT=http://127.0.0.1:$MI_PORT/msi/token
export IDENTITY_HEADER=$TOKEN
unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_TENANT_ID MSI_ENDPOINT MSI_SECRET
az() {
  unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$WORK/hosts" \
    "$VENV/bin/az" "$@" --only-show-errors -o json
}
check() { # check <json file> <python expression over `j`> <what>
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
if not eval(sys.argv[2], {"j": j}):
    sys.exit(f"az check failed: {sys.argv[3]}: {sys.argv[2]}\n{json.dumps(j, indent=2)[:2000]}")
print(f"ok - {sys.argv[3]}")
PY
}

az cloud register -n certbroker --endpoint-resource-manager "https://localhost:$PORT" > /dev/null
az cloud set -n certbroker > /dev/null
az cloud show -n certbroker > "$WORK/cloud.json"
check "$WORK/cloud.json" "j['suffixes']['keyvaultDns'] == '.vault.localhost:$PORT'" "cloud register reads the vault suffix with the port"
az login --identity > "$WORK/login.json"
check "$WORK/login.json" "j[0]['tenantId'] == '$TID' and j[0]['state'] == 'Enabled'" "az login --identity"

cat > "$WORK/self.json" <<JSON
{"issuerParameters": {"name": "Self"}, "keyProperties": {"exportable": true, "keyType": "EC", "curve": "P-256"},
 "secretProperties": {"contentType": "application/x-pem-file"},
 "x509CertificateProperties": {"subject": "CN=web.example.com", "validityInMonths": 12}}
JSON
az keyvault certificate create --vault-name "$VAULT" -n web -p "@$WORK/self.json" > "$WORK/create.json"
check "$WORK/create.json" "j['status'] == 'completed'" "create (Self) polls to completed"
az keyvault certificate list --vault-name "$VAULT" > "$WORK/list.json"
check "$WORK/list.json" "any(c['name'] == 'web' for c in j)" "list"

cat > "$WORK/unknown.json" <<JSON
{"issuerParameters": {"name": "Unknown"}, "keyProperties": {"exportable": true, "keyType": "EC", "curve": "P-256"},
 "x509CertificateProperties": {"subject": "CN=manual.example.com", "validityInMonths": 12}}
JSON
az keyvault certificate create --vault-name "$VAULT" -n manual -p "@$WORK/unknown.json" > "$WORK/manual.json"
az keyvault certificate pending show --vault-name "$VAULT" -n manual > "$WORK/pending.json"
check "$WORK/pending.json" "j['status'] == 'inProgress' and j['csr']" "pending show on an Unknown-issuer request"

# Sign the CSR with a test CA; merge leaf then CA, PEM blocks in file order.
python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['csr'])" "$WORK/pending.json" | base64 -d > "$WORK/csr.der"
openssl req -inform DER -in "$WORK/csr.der" -out "$WORK/csr.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/ca.key" \
  -out "$WORK/ca.pem" -days 30 -subj "/CN=az test CA" 2>/dev/null
printf 'subjectAltName=DNS:manual.example.com\n' > "$WORK/ext.cnf"
openssl x509 -req -in "$WORK/csr.pem" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
  -days 10 -out "$WORK/leaf.pem" -extfile "$WORK/ext.cnf" 2>/dev/null
cat "$WORK/leaf.pem" "$WORK/ca.pem" > "$WORK/chain.pem"
az keyvault certificate pending merge --vault-name "$VAULT" -n manual --file "$WORK/chain.pem" > "$WORK/merged.json"
check "$WORK/merged.json" "j['name'] == 'manual' and j['cer']" "pending merge"
az keyvault certificate show --id "https://$VAULT.vault.localhost:$PORT/certificates/manual" > "$WORK/show.json"
check "$WORK/show.json" "j['name'] == 'manual' and j['x509ThumbprintHex']" "show --id"
az keyvault certificate delete --vault-name "$VAULT" -n web > "$WORK/delete.json"
check "$WORK/delete.json" "j['recoveryId'].endswith('/deletedcertificates/web')" "delete"
check_certbroker
echo "az CLI recipe: all checks passed"
