/** The AUDITOR-README.txt of an export: what the files are and how to check them without our software. */

export function auditorReadme(from: string, to: string): string {
  return `LastPass audit digest: compliance evidence ${from} to ${to}
=====================================================================

This archive holds one evidence bundle per run of lastpass-audit-digest that reached the LastPass
Enterprise API (delivered, failed and quiet days alike; dry runs leave none), filed as
evidence/YYYY/MM/DD/<run id>/ by the day of the window the run covered.

Files of a bundle
  request.json            what was asked of LastPass: account number (cid), apiuser, command, the
                          wall-clock range and time zone, the window. The API secret is never recorded.
  raw/page-NNNN.json.gz   every response body exactly as received (gzip). With EVIDENCE_RAW=off these are
                          absent; manifest.json still records their SHA-256 and size.
  events.json             the security-relevant (and unrecognised) events of the window, normalised.
  content-manifest.json   SHA-256 and size of the three above, written BEFORE the digest was rendered.
                          Its SHA-256 is printed in the footer of the emailed digest
                          ("Evidence bundle <day>/<run id>, content SHA-256 <hex>").
  digest.html, digest.txt the digest as rendered and sent (absent when the run failed before rendering).
  delivery.json           recipients, SendGrid message id, or the error.
  run.json                outcome, package and event-catalogue versions, timings.
  manifest.json           SHA-256 and size of every file above, the SHA-256 of the previous bundle's
                          manifest.json (prevManifestSha256: the hash chain), the sequence number (seq),
                          run id, window and creation time.
  manifest.sig            (when signing is on) the signature over the exact bytes of manifest.json.

Top level
  SHA256SUMS              the hashes from the manifests, in sha256sum format.
  chain.json              the chain head (newest seq and manifest SHA-256) and the pruning checkpoint.
  VERIFY-REPORT.txt       the result of "lastpass-audit-digest verify" when this export was made.

How to verify without our software
  1. Files match their manifests:         sha256sum -c SHA256SUMS
     (SHA256SUMS is derived from the manifests; compare a few lines with manifest.json by eye, or
      jq -r '.files[] | select(.stored) | "\\(.sha256)  \\(.path)"' manifest.json | sha256sum -c  inside a bundle)
  2. The chain: for consecutive bundles (by "seq"), sha256sum of the older manifest.json equals
     "prevManifestSha256" in the newer one; the newest equals "manifestSha256" in chain.json.
  3. The email: the digest footer's content SHA-256 equals sha256sum of content-manifest.json, and
     manifest.json's contentManifestSha256. Check it the other way round too: every digest you received
     for the period names a bundle ("Evidence bundle <day>/<run id>") that must be in this export. A
     bundle missing here while its digest is in your mailbox was removed (the worker's own verify
     cross-checks its store's delivery records the same way; only the mail is outside the machine).
  4. Raw pages: gunzip -c raw/page-0001.json.gz | sha256sum equals the page's "contentSha256".
  5. Signatures (manifest.signing says which):
     Ed25519 (public key from the operator, evidence-public.pem):
       openssl pkeyutl -verify -pubin -inkey evidence-public.pem -rawin -in manifest.json -sigfile manifest.sig
     HMAC-SHA-256 (shared secret):
       openssl dgst -sha256 -hmac "$SECRET" -binary manifest.json | cmp - manifest.sig
`;
}
