/*
 * What a client asks of the server itself rather than of an object: Query, Discover Versions, and the
 * 2.x Interop and Log.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine/access.h"
#include "core/engine/attrs.h"
#include "core/engine/keyfmt.h"
#include "core/engine/ops.h"
#include "proto/encode.h"
#include "proto/message.h"
#include "proto/names.h"
#include "proto/ttlv.h"


/*
 * Interop (2.x): the OASIS interoperability tests bracket each test case with Begin and End; the server
 * only acknowledges them.
 */
int
op_interop(struct op_ctx *ctx)
{
	const struct ttlv *f = ttlv_find(ctx->item->payload, KMIP_TAG_INTEROP_FUNCTION);
	const struct ttlv *id = ttlv_find(ctx->item->payload, KMIP_TAG_INTEROP_IDENTIFIER);

	if (f == NULL || f->type != TTLV_ENUMERATION || f->v.u32 < KMIP_INTEROP_FUNCTION_BEGIN ||
	    f->v.u32 > KMIP_INTEROP_FUNCTION_RESET)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Interop needs an Interop Function");
	session_log(ctx->session, LOG_LEVEL_INFO, "interop %s %s", ttlv_enum_name(KMIP_TAG_INTEROP_FUNCTION, f->v.u32),
	    id != NULL && id->type == TTLV_TEXT_STRING ? (const char *)id->v.bytes.data : "");
	return 0;
}

/* Log (2.x): a client's message for the server's log, kept to one bounded, quoted line. */
int
op_log(struct op_ctx *ctx)
{
	const struct ttlv *m = ttlv_find(ctx->item->payload, KMIP_TAG_LOG_MESSAGE);

	if (m == NULL || m->type != TTLV_TEXT_STRING)
		return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Log needs a Log Message");
	session_log(ctx->session, LOG_LEVEL_INFO, "client log: \"%.200s\"", (const char *)m->v.bytes.data);
	return 0;
}

/*
 * The server profiles kmipd claims, each with the Profile Name of KMIP Profiles 1.3, 1.4 and 2.x (0: that
 * version has no such profile), and why the claim holds: every mandatory OASIS test case of the profile
 * passes (test/conformance/README.md). Not claimed: Baseline and Complete Server (2.1 BL-M-12/13 need DSA
 * keys, and Complete Server everything), the Suite B, HTTPS, JSON and XML profiles (they depend on TLS
 * settings or encodings kmipd does not speak), PKCS#11. A row with needs_lease holds only while
 * server.lease_time grants leases: its test cases list a Lease Time among a key's attributes.
 */
static const struct profile {
	uint32_t v13, v14, v2;
	bool needs_lease;
} profiles[] = {
#define P(name) KMIP_PROFILE_NAME_##name
	{ P(SYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_3), P(SYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_4),
	  P(SYMMETRIC_KEY_LIFECYCLE_SERVER), false },				/* SKLC-M */
	{ P(ASYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_3), P(ASYMMETRIC_KEY_LIFECYCLE_SERVER_KMIP_V1_4),
	  P(ASYMMETRIC_KEY_LIFECYCLE_SERVER), false },			/* AKLC-M */
	{ P(BASIC_CRYPTOGRAPHIC_SERVER_KMIP_V1_3), P(BASIC_CRYPTOGRAPHIC_SERVER_KMIP_V1_4),
	  P(BASIC_CRYPTOGRAPHIC_SERVER), false },				/* CS-BC-M */
	{ P(ADVANCED_CRYPTOGRAPHIC_SERVER_KMIP_V1_3), P(ADVANCED_CRYPTOGRAPHIC_SERVER_KMIP_V1_4),
	  P(ADVANCED_CRYPTOGRAPHIC_SERVER), false },				/* CS-AC-M */
	{ P(RNG_CRYPTOGRAPHIC_SERVER_KMIP_V1_3), P(RNG_CRYPTOGRAPHIC_SERVER_KMIP_V1_4),
	  P(RNG_CRYPTOGRAPHIC_SERVER), false },				/* CS-RNG-M */
	{ P(OPAQUE_MANAGED_OBJECT_STORE_SERVER_KMIP_V1_3), P(OPAQUE_MANAGED_OBJECT_STORE_SERVER_KMIP_V1_4),
	  P(OPAQUE_MANAGED_OBJECT_STORE_SERVER), false },			/* OMOS-M */
	{ P(STORAGE_ARRAY_WITH_SELF_ENCRYPTING_DRIVE_SERVER_KMIP_V1_3),
	  P(STORAGE_ARRAY_WITH_SELF_ENCRYPTING_DRIVE_SERVER_KMIP_V1_4),
	  P(STORAGE_ARRAY_WITH_SELF_ENCRYPTING_DRIVE_SERVER), false },		/* SASED-M */
	{ 0, 0, P(AES_XTS_SERVER), false },					/* AX-M */
	{ 0, 0, P(QUANTUM_SAFE_SERVER), false },				/* QS-M */
	{ P(SYMMETRIC_KEY_FOUNDRY_SERVER_KMIP_V1_3), P(SYMMETRIC_KEY_FOUNDRY_SERVER_KMIP_V1_4),
	  P(SYMMETRIC_KEY_FOUNDRY_SERVER), true },				/* SKFF-M */
	{ P(TAPE_LIBRARY_SERVER_KMIP_V1_3), P(TAPE_LIBRARY_SERVER_KMIP_V1_4), P(TAPE_LIBRARY_SERVER), true },
										/* TL-M */
#undef P
};

/* Profile Information: one per profile claimed, in the Profile Name values the client's version spells. */
static void
query_profiles(struct op_ctx *ctx)
{
	size_t i;
	uint32_t name;

	for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		const struct profile *p = &profiles[i];

		if (p->needs_lease && ctx->env->cfg->server.lease_time == 0)
			continue;
		switch (ctx->rules.profile_names) {
		case 0x0103:
			name = p->v13;
			break;
		case 0x0104:
			name = p->v14;
			break;
		case 0x0200:
			name = p->v2;
			break;
		default:
			name = 0;
			break;
		}
		if (name == 0)
			continue;
		ttlv_enc_begin(ctx->out, KMIP_TAG_PROFILE_INFORMATION);
		ttlv_enc_enum(ctx->out, KMIP_TAG_PROFILE_NAME, name);
		ttlv_enc_end(ctx->out);
	}
}

/*
 * RNG Parameters: the one generator behind RNG Retrieve and every key kmipd makes, OpenSSL's CTR-DRBG with
 * AES-256 (as the Random Number Generator attribute of generated keys says).
 */
static void
query_rngs(struct op_ctx *ctx)
{
	ttlv_enc_begin(ctx->out, KMIP_TAG_RNG_PARAMETERS);
	ttlv_enc_enum(ctx->out, KMIP_TAG_RNG_ALGORITHM, KMIP_RNG_ALGORITHM_DRBG);
	ttlv_enc_enum(ctx->out, KMIP_TAG_CRYPTOGRAPHIC_ALGORITHM, KMIP_CRYPTOGRAPHIC_ALGORITHM_AES);
	ttlv_enc_int(ctx->out, KMIP_TAG_CRYPTOGRAPHIC_LENGTH, 256);
	ttlv_enc_enum(ctx->out, KMIP_TAG_DRBG_ALGORITHM, KMIP_DRBG_ALGORITHM_CTR);
	ttlv_enc_end(ctx->out);
}

/*
 * Capability Information: multi-part operations (Streaming) yes; asynchronous operations and attestation
 * no (both are refused); Batch Undo when store.group_commit is on (it needs the group commit), Batch
 * Continue always; Destroy removes the key material and keeps the metadata; one DRBG instance serves every
 * client. Fields the client's version does not define are left out, and the optional 2.x Quantum Safe
 * Capability too: PyKMIP 0.10's 2.0 client cannot read a Capability Information that carries it (kmipd
 * makes quantum-safe keys on request all the same; see ops_create.c).
 */
static void
query_capabilities(struct op_ctx *ctx)
{
	ttlv_enc_begin(ctx->out, KMIP_TAG_CAPABILITY_INFORMATION);
	ttlv_enc_bool(ctx->out, KMIP_TAG_STREAMING_CAPABILITY, true);
	ttlv_enc_bool(ctx->out, KMIP_TAG_ASYNCHRONOUS_CAPABILITY, false);
	ttlv_enc_bool(ctx->out, KMIP_TAG_ATTESTATION_CAPABILITY, false);
	if (ops_client_knows_tag(ctx, KMIP_TAG_BATCH_UNDO_CAPABILITY)) {
		ttlv_enc_bool(ctx->out, KMIP_TAG_BATCH_UNDO_CAPABILITY, ctx->env->cfg->store.group_commit);
		ttlv_enc_bool(ctx->out, KMIP_TAG_BATCH_CONTINUE_CAPABILITY, true);
	}
	ttlv_enc_enum(ctx->out, KMIP_TAG_DESTROY_ACTION, KMIP_DESTROY_ACTION_KEY_MATERIAL_DELETED);
	ttlv_enc_enum(ctx->out, KMIP_TAG_RNG_MODE, KMIP_RNG_MODE_SHARED_INSTANTIATION);
	ttlv_enc_end(ctx->out);
}

/*
 * Defaults Information (2.x): what kmipd gives every object it creates or registers when the client does
 * not say: Sensitive false and Extractable true, for each object type it keeps.
 */
static void
query_defaults(struct op_ctx *ctx)
{
	uint32_t type;
	size_t i;

	ttlv_enc_begin(ctx->out, KMIP_TAG_DEFAULTS_INFORMATION);
	for (i = 0; keyfmt_object_type(i, &type); i++) {
		ttlv_enc_begin(ctx->out, KMIP_TAG_OBJECT_DEFAULTS);
		ttlv_enc_enum(ctx->out, KMIP_TAG_OBJECT_TYPE, type);
		ttlv_enc_begin(ctx->out, KMIP_TAG_ATTRIBUTES);
		ttlv_enc_bool(ctx->out, KMIP_TAG_SENSITIVE, false);
		ttlv_enc_bool(ctx->out, KMIP_TAG_EXTRACTABLE, true);
		ttlv_enc_end(ctx->out);
		ttlv_enc_end(ctx->out);
	}
	ttlv_enc_end(ctx->out);
}

/* The Query Functions of a request, as bits (1 << function); -1 with ctx->err set when one is malformed. */
static int
query_functions(struct op_ctx *ctx, uint32_t *want)
{
	const struct ttlv *f;

	*want = 0;
	for (f = ttlv_find(ctx->item->payload, KMIP_TAG_QUERY_FUNCTION); f != NULL; f = ttlv_find_next(f)) {
		if (f->type != TTLV_ENUMERATION)
			return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_FIELD, "Query Function is not an Enumeration");
		/* A function kmipd does not know asks for nothing it could answer: it is left unanswered. */
		if (f->v.u32 < 32)
			*want |= UINT32_C(1) << f->v.u32;
	}
	return 0;
}

#define WANTS(want, fn) (((want) >> KMIP_QUERY_FUNCTION_##fn) & 1)

/*
 * Query: what kmipd is and does, each part asked for by a Query Function and answered in the fields the
 * client's version defines, in the order of the response payload. Operations come from the dispatch table
 * (those the caller's roles allow) and object types from keyfmt's, so that what is added shows up.
 * Application namespaces, extensions (kmipd defines no extension tags), attestation types and validations
 * (kmipd holds none) are answered with no items, as KMIP reads "none". Query Storage Protection Masks is
 * not answered: the one mask kmipd has (Software) is on each object, and KMIP 2.x and PyKMIP 0.10 do not
 * agree on how the Query response carries it.
 */
int
op_query(struct op_ctx *ctx)
{
	const struct op_desc *d;
	uint32_t want, type;
	size_t i;

	if (query_functions(ctx, &want) != 0)
		return -1;
	/* Only the operations the caller's roles allow: what it may use, not what the server has. */
	if (WANTS(want, QUERY_OPERATIONS))
		for (d = dispatch_ops; d->fn != NULL; d++)
			if (ops_client_knows_op(ctx, d) && access_rights_allow(session_rights(ctx->session), d->operation))
				ttlv_enc_enum(ctx->out, KMIP_TAG_OPERATION, d->operation);
	if (WANTS(want, QUERY_OBJECTS)) {
		for (i = 0; keyfmt_object_type(i, &type); i++)
			ttlv_enc_enum(ctx->out, KMIP_TAG_OBJECT_TYPE, type);
		/* Templates are kept without key material, so keyfmt does not list them (1.x only). */
		if (ctx->rules.templates)
			ttlv_enc_enum(ctx->out, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_TYPE_TEMPLATE);
	}
	if (WANTS(want, QUERY_SERVER_INFORMATION)) {
		ttlv_enc_cstr(ctx->out, KMIP_TAG_VENDOR_IDENTIFICATION, "kmipd");
		ttlv_enc_begin(ctx->out, KMIP_TAG_SERVER_INFORMATION);
		ttlv_enc_end(ctx->out);
	}
	if (WANTS(want, QUERY_RNGS) && ops_client_knows_tag(ctx, KMIP_TAG_RNG_PARAMETERS))
		query_rngs(ctx);
	if (WANTS(want, QUERY_PROFILES) && ops_client_knows_tag(ctx, KMIP_TAG_PROFILE_INFORMATION))
		query_profiles(ctx);
	if (WANTS(want, QUERY_CAPABILITIES) && ops_client_knows_tag(ctx, KMIP_TAG_CAPABILITY_INFORMATION))
		query_capabilities(ctx);
	/* kmipd issues no client credentials: each client brings its own certificate, signed by a CA kmipd trusts. */
	if (WANTS(want, QUERY_CLIENT_REGISTRATION_METHODS) && ops_client_knows_tag(ctx, KMIP_TAG_CLIENT_REGISTRATION_METHOD))
		ttlv_enc_enum(ctx->out, KMIP_TAG_CLIENT_REGISTRATION_METHOD,
		    KMIP_CLIENT_REGISTRATION_METHOD_CLIENT_GENERATED);
	if (WANTS(want, QUERY_DEFAULTS_INFORMATION) && ops_client_knows_tag(ctx, KMIP_TAG_DEFAULTS_INFORMATION))
		query_defaults(ctx);
	return 0;
}

/*
 * Discover Versions: with no list, every version kmipd speaks, newest first; with a list, those of the
 * client's versions that kmipd speaks, in the client's order.
 */
int
op_discover_versions(struct op_ctx *ctx)
{
	const struct ttlv *payload = ctx->item->payload, *pv;
	size_t i;

	if (ttlv_find(payload, KMIP_TAG_PROTOCOL_VERSION) != NULL) {
		for (pv = ttlv_find(payload, KMIP_TAG_PROTOCOL_VERSION); pv != NULL; pv = ttlv_find_next(pv)) {
			const struct ttlv *major = ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MAJOR);
			const struct ttlv *minor = ttlv_find(pv, KMIP_TAG_PROTOCOL_VERSION_MINOR);

			if (major == NULL || minor == NULL || major->type != TTLV_INTEGER ||
			    minor->type != TTLV_INTEGER)
				return kmip_error_set(&ctx->err, KMIP_RESULT_REASON_INVALID_MESSAGE,
				    "malformed Protocol Version in Discover Versions");
			if (major->v.i32 < 0 || major->v.i32 > 255 || minor->v.i32 < 0 || minor->v.i32 > 255 ||
			    !kmip_version_supported(KMIP_VERSION(major->v.i32, minor->v.i32)))
				continue;
			ttlv_enc_item(ctx->out, pv);
		}
		return 0;
	}
	for (i = 0; i < dispatch_nversions; i++)
		kmip_version_encode(ctx->out, dispatch_versions[i]);
	return 0;
}
