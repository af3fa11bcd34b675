/**
 * Start-up validation of the evidence key material (EVIDENCE_SIGNING_KEY, EVIDENCE_VERIFY_KEY) with
 * node:crypto, so that the configuration does not depend on the evidence archive. The archive's signer and
 * verifier (src/evidence/evidence-signing.ts) accept exactly what passes here: an Ed25519 PEM, or an HMAC
 * secret (signing: at least 16 characters).
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

const isPem = (key: string) => key.trimStart().startsWith('-----BEGIN');

/** PEM keys arrive with literal "\n" from some secret stores: both forms are accepted. */
export function normaliseKeyText(text: string): string {
  return text.replace(/\\n/g, '\n');
}

export function signingKeyProblem(key: string): string | null {
  if (isPem(key)) {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(key);
    } catch {
      return 'EVIDENCE_SIGNING_KEY looks like a PEM key but cannot be read: paste the whole "-----BEGIN PRIVATE KEY-----" block (openssl genpkey -algorithm ed25519), or use a plain secret for HMAC.';
    }
    if (privateKey.asymmetricKeyType !== 'ed25519')
      return `EVIDENCE_SIGNING_KEY is a ${privateKey.asymmetricKeyType ?? 'unknown'} key: only Ed25519 is supported (openssl genpkey -algorithm ed25519 -out evidence-signing.pem).`;
    return null;
  }
  if (key.length < 16)
    return 'EVIDENCE_SIGNING_KEY is too short for an HMAC secret: use at least 16 characters (32 random bytes, e.g. openssl rand -hex 32), or an Ed25519 private key PEM.';
  return null;
}

export function verifyKeyProblem(key: string): string | null {
  if (!isPem(key)) return null;
  let publicKey: KeyObject;
  try {
    publicKey = key.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(key)) : createPublicKey(key);
  } catch {
    return 'EVIDENCE_VERIFY_KEY looks like a PEM key but cannot be read: give the Ed25519 public key ("-----BEGIN PUBLIC KEY-----").';
  }
  if (publicKey.asymmetricKeyType !== 'ed25519')
    return `EVIDENCE_VERIFY_KEY is a ${publicKey.asymmetricKeyType ?? 'unknown'} key: only Ed25519 is supported.`;
  return null;
}
