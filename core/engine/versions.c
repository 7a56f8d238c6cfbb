/*
 * KMIP versions at the engine's edges. Handlers work in one internal form, KMIP 2.x, and never test a
 * version number; what differs between 1.x and 2.x is decided here:
 *
 *   on the way out  versions_reason() maps the Result Reasons handlers set (2.x) to those kmipd answers 1.x
 *                   clients with.
 */
#include "core/engine/ops.h"
#include "proto/message.h"
#include "proto/names.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define V1(version) (KMIP_VERSION_MAJOR(version) < 2)

/*
 * Result Reasons that handlers set and KMIP 1.x does not have (2.0 added them), with the reason kmipd
 * answers 1.x clients with instead.
 */
static const struct {
	uint32_t internal, v1;
} reasons_v1[] = {
	{ KMIP_RESULT_REASON_OBJECT_NOT_FOUND, KMIP_RESULT_REASON_ITEM_NOT_FOUND },
	{ KMIP_RESULT_REASON_OBJECT_DESTROYED, KMIP_RESULT_REASON_ITEM_NOT_FOUND },
	{ KMIP_RESULT_REASON_WRONG_KEY_LIFECYCLE_STATE, KMIP_RESULT_REASON_PERMISSION_DENIED },
	{ KMIP_RESULT_REASON_ATTRIBUTE_READ_ONLY, KMIP_RESULT_REASON_PERMISSION_DENIED },
	{ KMIP_RESULT_REASON_SENSITIVE, KMIP_RESULT_REASON_PERMISSION_DENIED },
	{ KMIP_RESULT_REASON_NOT_EXTRACTABLE, KMIP_RESULT_REASON_PERMISSION_DENIED },
	{ KMIP_RESULT_REASON_INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK, KMIP_RESULT_REASON_PERMISSION_DENIED },
	{ KMIP_RESULT_REASON_ATTRIBUTE_NOT_FOUND, KMIP_RESULT_REASON_INVALID_FIELD },
	{ KMIP_RESULT_REASON_ATTRIBUTE_SINGLE_VALUED, KMIP_RESULT_REASON_INVALID_FIELD },
};

/* Returns the Result Reason a client of version gets for the internal reason. */
uint32_t
versions_reason(unsigned version, uint32_t reason)
{
	size_t i;

	if (!V1(version))
		return reason;
	for (i = 0; i < NELEM(reasons_v1); i++)
		if (reasons_v1[i].internal == reason)
			return reasons_v1[i].v1;
	return reason;
}

/* The Result Reason table, for tests: false past the last row. */
bool
versions_reason_row(size_t i, uint32_t *internal, uint32_t *v1)
{
	if (i >= NELEM(reasons_v1))
		return false;
	*internal = reasons_v1[i].internal;
	*v1 = reasons_v1[i].v1;
	return true;
}
