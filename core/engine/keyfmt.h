/*
 * keyfmt: key material conversions between the KMIP Key Format Types and the canonical forms the store keeps.
 *
 * Canonical forms (what the store holds, whatever format a key arrived in):
 *   Private Key (RSA, EC, DSA)       PKCS#8 PrivateKeyInfo DER, unencrypted
 *   Public Key (RSA, EC, DSA)        X.509 SubjectPublicKeyInfo DER
 *   Symmetric Key, Secret Data,
 *   PGP Key, Opaque Object           the raw bytes
 *   Certificate                      X.509 DER, exactly as registered
 * Canonical DER is produced by one encoder with one set of choices (EC: named curve, uncompressed point,
 * public key included), so the same key always has the same canonical bytes, whichever format it came in.
 *
 * Pure functions over OpenSSL 3 (EVP, OSSL_ENCODER/DECODER, OSSL_PARAM): no I/O, no logging, no globals.
 * Temporaries that hold private key bytes are wiped. OpenSSL's error queue is left as it was found.
 *
 * Failures carry a KMIP Result Reason: Key Format Type Not Supported for a format that does not apply to the
 * key (or that keyfmt does not implement), Invalid Field for material that is malformed or does not fit the
 * object type, Cryptographic Failure when OpenSSL fails, General Failure when memory runs out, Feature Not
 * Supported for an object type keyfmt does not handle.
 */
#ifndef KMIPD_KEYFMT_H
#define KMIPD_KEYFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "proto/encode.h"
#include "proto/ttlv.h"

#define KEYFMT_WUR __attribute__((warn_unused_result))

#define KEYFMT_MAX_DER		65536		/* a DER key or certificate */
#define KEYFMT_MAX_SYMMETRIC	4096		/* bytes of a symmetric key */
#define KEYFMT_MAX_DATA		(1024 * 1024)	/* bytes of Secret Data or an Opaque Object */
#define KEYFMT_RSA_MIN_BITS	1024
#define KEYFMT_RSA_MAX_BITS	16384
/*
 * DSA keys: p of 512 to 3072 bits (512 for the old keys clients still register, such as the OASIS test
 * cases'; kmipd itself generates 2048 and 3072), q of 160, 224 or 256 bits (FIPS 186-4).
 */
#define KEYFMT_DSA_MIN_BITS	512
#define KEYFMT_DSA_MAX_BITS	3072
#define KEYFMT_DSA_MAX_Q_BITS	256

struct keyfmt_error {
	uint32_t reason;	/* KMIP Result Reason */
	char message[200];	/* for the Result Message; never holds key material */
};

/* A key in canonical form, as keyfmt_import() and keyfmt_from_pkey() make it. */
struct keyfmt_key {
	uint8_t *der;		/* canonical bytes (malloc'd; keyfmt_key_clear() wipes and frees them) */
	size_t der_len;
	uint32_t format;	/* the Key Format Type the material arrived in (Raw or Opaque for Secret Data) */
	uint32_t alg;		/* KMIP Cryptographic Algorithm; 0 when the material does not say (raw bytes) */
	uint32_t bits;		/* RSA modulus bits, EC curve bits, 8 * length of a symmetric key; else 0 */
	uint32_t curve;		/* KMIP Recommended Curve of an EC key (or a certificate's EC key); else 0 */
	bool kept;		/* keyfmt_import_as: the bytes are not in the declared format (see there) */
};

/* Wipes and frees the canonical bytes and zeroes the struct; NULL is accepted. */
void keyfmt_key_clear(struct keyfmt_key *k);

/*
 * Register: reads key material sent in format (a KMIP Key Format Type) for an object of object_type (a KMIP
 * Object Type), validates it and converts it to the canonical form. item is the Key Material (tag 0x420043)
 * for keys and Secret Data, the Certificate Value for a Certificate (format X.509 or 0) and the Opaque Data
 * Value for an Opaque Object (format Opaque or 0).
 * Accepted: Private Key: PKCS#1, PKCS#8, ECPrivateKey, Transparent RSA / EC (and ECDSA, ECDH, ECMQV) Private
 * Key; Public Key: PKCS#1, X.509 (SubjectPublicKeyInfo), Transparent RSA / EC (ECDSA, ECDH, ECMQV) Public Key;
 * Symmetric Key: Raw, Transparent Symmetric Key; Secret Data and PGP Key: Raw, Opaque.
 * RSA keys: two primes, 1024 to 16384 bits, every component consistent (cheap checks, no primality test).
 * EC keys: named prime curves (P-192 to P-521, secp256k1, brainpool P256r1/P384r1/P512r1), point checked.
 * DSA keys (PKCS#8, X.509, Transparent DSA Private / Public Key): the sizes of p, q, g, x, y checked before any
 * arithmetic, then g^q = 1 and y^q = 1 mod p and (private keys) y = g^x; no primality test.
 * Returns 0 with *out filled (the caller calls keyfmt_key_clear), or -1 with *err set and *out zeroed.
 */
int keyfmt_import(uint32_t object_type, uint32_t format, const struct ttlv *item, struct keyfmt_key *out,
    struct keyfmt_error *err) KEYFMT_WUR;

/*
 * Register, as clients send keys: like keyfmt_import, and for a Private or Public Key whose Key Material is
 * a Byte String that is not in the declared byte format (Raw, PKCS#1, PKCS#8, X.509 or ECPrivateKey, even
 * one that does not apply to the object type: PKCS#1 bytes declared PKCS#8, a SubjectPublicKeyInfo declared
 * PKCS#1, a public key declared PKCS#8 and so on), reads it as the DER structure its
 * first elements show (cheap checks first: the lengths and the DER headers) and, for a Public Key declared
 * Raw, as an EC point (uncompressed or compressed) of the first supported curve it lies on. Such a key is
 * imported with out->kept set and out->format the declared one: the caller keeps the client's bytes to give
 * back as registered. alg, when not 0, is the Cryptographic Algorithm the client declared: a key of another
 * algorithm (EC, ECDSA, ECDH and ECMQV are one) is refused with Invalid Field, as are bytes that parse as no
 * key. A Raw private key that is not DER (a bare EC scalar, which does not name its curve) is refused.
 * Returns 0 with *out filled, or -1 with *err set and *out zeroed.
 */
int keyfmt_import_as(uint32_t object_type, uint32_t format, uint32_t alg, const struct ttlv *item,
    struct keyfmt_key *out, struct keyfmt_error *err) KEYFMT_WUR;

/*
 * Get: writes the canonical material canon (len bytes) of an object of object_type in format (0: the
 * default, see keyfmt_default_format) into out at its current position, and sets *format_used.
 * For keys and Secret Data that is the Key Material item: a Byte String (Raw, Opaque, PKCS#1, PKCS#8, X.509,
 * ECPrivateKey) or a Structure of Transparent fields. A Certificate has no Key Block: its Certificate Value
 * is written (format 0 or X.509); an Opaque Object gets its Opaque Data Value (format 0 or Opaque).
 * Returns 0, or -1 with *err set and nothing written (a format that does not apply to the key is Key Format
 * Type Not Supported). Errors of the encoder itself stay sticky in out, for ttlv_enc_finish().
 */
int keyfmt_export(uint32_t object_type, const uint8_t *canon, size_t len, uint32_t format, struct ttlv_enc *out,
    uint32_t *format_used, struct keyfmt_error *err) KEYFMT_WUR;

/*
 * The Key Format Type a Get without one returns, by object type and Cryptographic Algorithm (the KMIP 2.x
 * table of default formats): RSA keys PKCS#1; EC keys Transparent EC Private / Public Key (Transparent
 * ECDSA, ECDH or ECMQV by alg before KMIP 1.3, which has no Transparent EC formats); Symmetric Key and
 * Secret Data Raw; Opaque Object Opaque; Certificate X.509. version is KMIP_VERSION(major, minor).
 * 0 for an object type or algorithm keyfmt does not handle.
 */
uint32_t keyfmt_default_format(uint32_t object_type, uint32_t alg, unsigned version);

/* True when keyfmt_export() can write a key of object_type and alg (RSA, EC, ...) in format. */
bool keyfmt_format_applies(uint32_t object_type, uint32_t alg, uint32_t format);

/*
 * The classes of algorithm that the key formats depend on: RSA and EC keys have formats of their own, while
 * the formats of a Symmetric Key and of objects that are not keys do not depend on the algorithm.
 */
enum keyfmt_class {
	KEYFMT_CLASS_NONE,		/* not a key: Secret Data, an Opaque Object, a Certificate */
	KEYFMT_CLASS_SYMMETRIC,		/* a Symmetric Key, whatever its algorithm */
	KEYFMT_CLASS_RSA,
	KEYFMT_CLASS_EC,		/* EC, ECDSA, ECDH and ECMQV keys */
	KEYFMT_CLASS_DSA,
};

/* One row of keyfmt's codec table, as keyfmt_codec_row() shows it. */
struct keyfmt_codec {
	uint32_t object_type;
	uint32_t format;		/* Key Format Type */
	enum keyfmt_class alg_class;
	bool imports;			/* keyfmt_import() reads the format for the object type */
	bool applies;			/* keyfmt_export() writes it for keys of the class */
	bool is_default;		/* keyfmt_default_format() returns it for the alg and version asked */
};

/*
 * Row i of the codec table that keyfmt_import(), keyfmt_export(), keyfmt_default_format() and
 * keyfmt_format_applies() look formats up in, one row per object type, Key Format Type and class, so that
 * tests can check its invariants. is_default is for a key of Cryptographic Algorithm alg in KMIP version.
 * Returns false past the last row.
 */
bool keyfmt_codec_row(size_t i, uint32_t alg, unsigned version, struct keyfmt_codec *row);
/* The i-th object type keyfmt handles (what Register and Get accept), for Query; false past the last. */
bool keyfmt_object_type(size_t i, uint32_t *object_type);

/* n, e and d of an RSA private key: unsigned big-endian, leading zeros dropped, pointing into the request. */
struct keyfmt_rsa_ned {
	const uint8_t *n, *e, *d;
	size_t n_len, e_len, d_len;
};

/*
 * Register: true when item (the Key Material of a Private Key in format) is a Transparent RSA Private Key
 * with a Modulus of at most max_bits, a Public Exponent and a Private Exponent but neither P nor Q, whose
 * primes keyfmt_import() would have to recover: up to 16 modular exponentiations, work for a worker
 * process (keygen.h) rather than the loop. The caller recovers them there, adds P and Q to the material and
 * imports that, which checks every component as usual. False for anything else, which keyfmt_import()
 * checks and reports itself.
 */
bool keyfmt_rsa_needs_recovery(uint32_t object_type, uint32_t format, const struct ttlv *item, size_t max_bits,
    struct keyfmt_rsa_ned *out);

/*
 * The canonical public key (SubjectPublicKeyInfo DER, malloc'd into *spki) of a canonical private key.
 * Returns 0, or -1 with *err set.
 */
int keyfmt_public_from_private(const uint8_t *pkcs8, size_t len, uint8_t **spki, size_t *spki_len,
    struct keyfmt_error *err) KEYFMT_WUR;

/*
 * The algorithm and length of canonical material: RSA / EC and modulus / curve bits for keys (and for the
 * public key of a Certificate), 0 and 8 * len for a Symmetric Key, 0 and 0 for Secret Data and Opaque
 * Objects. Returns 0, or -1 with *err set.
 */
int keyfmt_key_info(uint32_t object_type, const uint8_t *canon, size_t len, uint32_t *alg, uint32_t *bits,
    struct keyfmt_error *err) KEYFMT_WUR;

/* True when the canonical private and public keys belong to the same key pair. */
bool keyfmt_private_public_match(const uint8_t *pkcs8, size_t pkcs8_len, const uint8_t *spki, size_t spki_len);

/*
 * The public key of an X.509 certificate (DER), in canonical form (malloc'd into *spki). Returns 0, or -1
 * with *err set (Invalid Field for a malformed certificate or a key that is neither RSA nor EC).
 */
int keyfmt_cert_public_key(const uint8_t *der, size_t len, uint8_t **spki, size_t *spki_len,
    struct keyfmt_error *err) KEYFMT_WUR;

/*
 * The canonical forms of a key pair OpenSSL generated (CreateKeyPair, key-generation workers): priv gets
 * the PKCS#8 form, pub the SubjectPublicKeyInfo; either may be NULL. The key's EC encoding flags are set to
 * the canonical choices. Returns 0, or -1 with *err set and both zeroed.
 */
int keyfmt_from_pkey(EVP_PKEY *pkey, struct keyfmt_key *priv, struct keyfmt_key *pub, struct keyfmt_error *err)
    KEYFMT_WUR;

/* Loads canonical keys for cryptographic operations; NULL with *err set on failure. Free with EVP_PKEY_free. */
EVP_PKEY *keyfmt_load_private(const uint8_t *pkcs8, size_t len, struct keyfmt_error *err) KEYFMT_WUR;
EVP_PKEY *keyfmt_load_public(const uint8_t *spki, size_t len, struct keyfmt_error *err) KEYFMT_WUR;

#endif
