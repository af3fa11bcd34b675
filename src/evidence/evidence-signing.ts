/**
 * Signing the evidence manifests. EVIDENCE_SIGNING_KEY is either a plain secret (HMAC-SHA-256) or an
 * Ed25519 private key in PEM. The signature covers the exact bytes of manifest.json and is kept next to it
 * (manifest.sig, raw bytes), so an auditor can check it with openssl. The manifest names the key by a
 * fingerprint: Ed25519 `ed25519:SHA256:<hex of the SPKI DER>`; HMAC `hmac-sha256:<16 hex of
 * HMAC(secret, KEY_ID_LABEL)>` (never a plain hash of the secret).
 */
import { EvidenceError } from '../errors.js';
import { createHash, createHmac, createPrivateKey, createPublicKey, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

export type SignatureAlg = 'ed25519' | 'hmac-sha256';

export interface ManifestSigner {
  alg: SignatureAlg;
  keyFingerprint: string;
  sign(data: Buffer): Buffer;
}

export interface ManifestVerifier {
  alg: SignatureAlg;
  keyFingerprint: string;
  verify(data: Buffer, signature: Buffer): boolean;
}

const KEY_ID_LABEL = 'lastpass-audit-digest evidence key id';

function isPem(value: string): boolean {
  return value.trimStart().startsWith('-----BEGIN');
}

function ed25519Fingerprint(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `ed25519:SHA256:${createHash('sha256').update(der).digest('hex')}`;
}

function hmacFingerprint(secret: string): string {
  return `hmac-sha256:${createHmac('sha256', secret).update(KEY_ID_LABEL).digest('hex').slice(0, 16)}`;
}

/** Throws an EvidenceError with an actionable message when the key is unusable (config reports its message). */
export function createManifestSigner(key: string): ManifestSigner {
  if (isPem(key)) {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(key);
    } catch {
      throw new EvidenceError(
        'EVIDENCE_SIGNING_KEY looks like a PEM key but cannot be read: paste the whole "-----BEGIN PRIVATE KEY-----" block (openssl genpkey -algorithm ed25519), or use a plain secret for HMAC.',
      );
    }
    if (privateKey.asymmetricKeyType !== 'ed25519') {
      throw new EvidenceError(
        `EVIDENCE_SIGNING_KEY is a ${privateKey.asymmetricKeyType ?? 'unknown'} key: only Ed25519 is supported (openssl genpkey -algorithm ed25519 -out evidence-signing.pem).`,
      );
    }
    const fingerprint = ed25519Fingerprint(createPublicKey(privateKey));
    return { alg: 'ed25519', keyFingerprint: fingerprint, sign: (data) => sign(null, data, privateKey) };
  }
  if (key.length < 16)
    throw new EvidenceError(
      'EVIDENCE_SIGNING_KEY is too short for an HMAC secret: use at least 16 characters (32 random bytes, e.g. openssl rand -hex 32), or an Ed25519 private key PEM.',
    );
  return {
    alg: 'hmac-sha256',
    keyFingerprint: hmacFingerprint(key),
    sign: (data) => createHmac('sha256', key).update(data).digest(),
  };
}

/** EVIDENCE_VERIFY_KEY: the HMAC secret, or the Ed25519 PUBLIC key PEM (a private key PEM is accepted too). */
export function createManifestVerifier(key: string): ManifestVerifier {
  if (isPem(key)) {
    let publicKey: KeyObject;
    try {
      publicKey = key.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(key)) : createPublicKey(key);
    } catch {
      throw new EvidenceError(
        'EVIDENCE_VERIFY_KEY looks like a PEM key but cannot be read: give the Ed25519 public key ("-----BEGIN PUBLIC KEY-----").',
      );
    }
    if (publicKey.asymmetricKeyType !== 'ed25519')
      throw new EvidenceError(`EVIDENCE_VERIFY_KEY is a ${publicKey.asymmetricKeyType ?? 'unknown'} key: only Ed25519 is supported.`);
    return {
      alg: 'ed25519',
      keyFingerprint: ed25519Fingerprint(publicKey),
      verify: (data, signature) => {
        try {
          return verify(null, data, publicKey, signature);
        } catch {
          return false;
        }
      },
    };
  }
  return {
    alg: 'hmac-sha256',
    keyFingerprint: hmacFingerprint(key),
    verify: (data, signature) => {
      const expected = createHmac('sha256', key).update(data).digest();
      return signature.length === expected.length && timingSafeEqual(signature, expected);
    },
  };
}
