/* errors.c -- npmu_strerror() and the translation of errno and libfabric codes into NPMU_E_*. */
#include "errors.h"

#include <errno.h>
#include <rdma/fi_errno.h>

/* npmu_strerror -- a sentence for every NPMU_E_* code. */
const char *npmu_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case NPMU_E_INVAL: return "invalid argument";
	case NPMU_E_NOMEM: return "out of memory";
	case NPMU_E_NOENT: return "no such region";
	case NPMU_E_EXIST: return "a region with that name already exists";
	case NPMU_E_NOSPC: return "the pool is full";
	case NPMU_E_NAME: return "invalid region name (1-63 characters of A-Z a-z 0-9 . _ -)";
	case NPMU_E_RANGE: return "offset or length outside the region";
	case NPMU_E_ACCESS: return "access denied: the right held does not allow this";
	case NPMU_E_KEY: return "unknown or revoked access key";
	case NPMU_E_PROTO: return "malformed protocol message";
	case NPMU_E_TOOBIG: return "message or size over the limit";
	case NPMU_E_CORRUPT: return "corrupt, or not of the expected format (pool file or stream)";
	case NPMU_E_VERSION: return "unsupported pool or protocol version";
	case NPMU_E_IO: return "I/O or persistence failure on the unit";
	case NPMU_E_FABRIC: return "fabric (libfabric) transport error";
	case NPMU_E_TIMEDOUT:
		return "timed out waiting (for the unit, or for what the call waits on: an encoder, "
		       "a free staging slot)";
	case NPMU_E_UNREACHABLE: return "the unit cannot be reached";
	case NPMU_E_LIMIT: return "too many regions, rights, peers or requests in flight";
	case NPMU_E_SHRINK: return "a region can only grow";
	case NPMU_E_INTERNAL: return "internal error";
	case NPMU_E_BUSY:
		return "in use by another process (a pool another npmud holds; a set or dataset "
		       "another writer, encoder or rebuild holds)";
	case NPMU_E_FENCED: return "fenced: the lease lapsed and another process took over the stream";
	case NPMU_E_LEASE:
		return "held by a live writer (its lease has not lapsed): a stream, a set, or a set's "
		       "staging";
	case NPMU_E_LOST: return "too many units lost or corrupt to restore this version";
	case NPMU_E_CONFIG:
		return "a credentials or key file is missing, unreadable, readable by others or "
		       "malformed (logged with its name and line)";
	case NPMU_E_MANAGER:
		return "the manager does not answer (nothing listening at that address, or it is "
		       "down or cut off; pmmd, or npmud's embedded manager)";
	case NPMU_E_NOUNIT: return "no such unit (npmu unit ls lists them)";
	case NPMU_E_AUTH: return "authentication failed, or a message was replayed, reordered or altered";
	default: return "unknown error";
	}
}

/* npmu__from_errno -- map an errno value (positive) to an NPMU_E_* code. */
int npmu__from_errno(int e)
{
	switch (e) {
	case 0: return 0;
	case ENOMEM: return NPMU_E_NOMEM;
	case ENOENT: return NPMU_E_NOENT;
	case EEXIST: return NPMU_E_EXIST;
	case ENOSPC: return NPMU_E_NOSPC;
	case EINVAL: return NPMU_E_INVAL;
	case EACCES:
	case EPERM: return NPMU_E_ACCESS;
	case ETIMEDOUT: return NPMU_E_TIMEDOUT;
	default: return NPMU_E_IO;
	}
}

/* npmu__from_fi -- map a libfabric return code (negative or positive) to an NPMU_E_* code. */
int npmu__from_fi(int rc)
{
	if (rc < 0)
		rc = -rc;
	switch (rc) {
	case 0: return 0;
	case FI_ENOMEM: return NPMU_E_NOMEM;
	case FI_EINVAL: return NPMU_E_INVAL;
	case FI_ETIMEDOUT: return NPMU_E_TIMEDOUT;
	case FI_ENOTCONN:
	case FI_ECONNREFUSED:
	case FI_ECONNRESET:
	case FI_ECONNABORTED:
	case FI_EHOSTUNREACH:
	case FI_ENETUNREACH:
	case FI_ECANCELED: return NPMU_E_UNREACHABLE;
	case FI_EACCES:
	case FI_EPERM: return NPMU_E_KEY;
	default: return NPMU_E_FABRIC;
	}
}

/* npmu__is_error -- whether code is one of the NPMU_E_* codes (NPMU_E_CONFIG is the last). */
bool npmu__is_error(int code)
{
	return code <= NPMU_E_INVAL && code >= NPMU_E_CONFIG;
}

/* npmu__error_name -- a short name for 0 ("ok") and each NPMU_E_* code ("noent"), for metric
 * labels; "other" for anything else. */
const char *npmu__error_name(int code)
{
	static const char *const names[] = {
		"ok",	 "inval",   "nomem",   "noent",	"exist",   "nospc",	  "name",
		"range", "access",  "key",     "proto",	"toobig",  "corrupt",	  "version",
		"io",	 "fabric",  "timedout", "unreachable", "limit", "shrink",	  "internal",
		"busy",	 "auth",    "nounit",  "fenced", "lease",   "lost",	  "manager",
		"config"};
	_Static_assert(sizeof(names) / sizeof(names[0]) == NPMU__ERROR_NAMES, "a name per code");
	int i = npmu__error_index(code);
	return i < 0 ? "other" : names[i];
}

/* npmu__error_index -- 0 for success, 1.. for NPMU_E_INVAL.. NPMU_E_CONFIG, -1 otherwise. */
int npmu__error_index(int code)
{
	if (code == 0)
		return 0;
	return npmu__is_error(code) ? NPMU_E_INVAL - code + 1 : -1;
}
