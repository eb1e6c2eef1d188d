#!/usr/bin/env bash
# Certificates for the TLS tests, made with openssl under DIR:
#   ca.crt/.key           the test CA
#   other-ca.crt/.key     a CA that signed nothing of theirs
#   server-ip.crt/.key    a server certificate for IP 127.0.0.1 (signed by ca)
#   server-dns.crt/.key   a server certificate for DNS redis.example (by ca)
#   client.crt/.key       a client certificate (mutual TLS, by ca)
#   cadir/                ca.crt by its hash (openssl rehash), for --cacertdir
# Prints DIR. Does nothing when DIR/ca.crt exists already.
#
#   scripts/make-test-pki.sh DIR
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 64; }
dir=$1
mkdir -p "$dir"
cd "$dir"
if [ -f ca.crt ] && [ -f client.key ]; then pwd; exit 0; fi
days=3650

ca() { # ca NAME "CN"
  openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days $days -keyout "$1.key" -out "$1.crt" -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() { # leaf NAME "CN" "SAN" serverAuth|clientAuth
  openssl req -new -nodes -newkey rsa:2048 -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n%s\n' \
    "$4" "${3:+subjectAltName=$3}" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days $days -sha256 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
ca ca "rwlock test CA"
ca other-ca "an unrelated CA"
leaf server-ip "127.0.0.1" "IP:127.0.0.1" serverAuth,clientAuth
leaf server-dns "redis.example" "DNS:redis.example" serverAuth
leaf client "rwlock-client" "" clientAuth
chmod 600 ./*.key
mkdir -p cadir
cp ca.crt cadir/
openssl rehash cadir >/dev/null 2>&1 || c_rehash cadir >/dev/null
openssl verify -CAfile ca.crt server-ip.crt server-dns.crt client.crt >/dev/null
pwd
