/* conn.c -- connections to a manager (and the data connections to its units), their holder
 * renewals, and the region calls that need only the manager. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "internal.h"
#include "codec.h"
#include "errors.h"
#include "log.h"

/* load_credentials -- read a client credentials file: "principal NAME" and "key HEX" or
 * "key-file PATH"; the file (and a key file) must not be readable by others. Every problem is
 * logged naming the file (and line) and answered NPMU_E_CONFIG. */
static int load_credentials(struct npmu__rpc *c, const char *path)
{
	uint8_t key[NPMU_KEY_LEN];
	int rc = npmu__key_read(path, key); /* checks the mode; not parsing as a bare key is normal */
	sodium_memzero(key, sizeof(key));
	if (rc == NPMU_E_NOENT || rc == NPMU_E_ACCESS || rc == NPMU_E_IO) {
		LOG_ERR("credentials %s: %s", path, npmu__key_problem(rc));
		return NPMU_E_CONFIG;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		LOG_ERR("credentials %s: %s", path, npmu__key_problem(NPMU_E_IO));
		return NPMU_E_CONFIG;
	}
	char line[512], word[32], value[400];
	bool have_key = false;
	int lineno = 0;
	rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		int n = sscanf(line, "%31s %399s", word, value);
		if (n <= 0 || word[0] == '#')
			continue;
		if (n == 2 && !strcmp(word, "principal") && npmu__id_valid(value, strlen(value))) {
			size_t vl = strlen(value); /* at most NPMU_ID_MAX: checked */
			memcpy(c->principal, value, vl);
			c->principal[vl] = '\0';
		} else if (n == 2 && !strcmp(word, "key")) {
			if ((rc = npmu__key_parse(value, c->key)) != 0)
				LOG_ERR("credentials %s line %d: %s", path, lineno,
					npmu__key_problem(NPMU_E_INVAL));
			have_key = rc == 0;
		} else if (n == 2 && !strcmp(word, "key-file")) {
			if ((rc = npmu__key_read(value, c->key)) != 0)
				LOG_ERR("credentials %s line %d: key file %s: %s", path, lineno, value,
					npmu__key_problem(rc));
			have_key = rc == 0;
		} else {
			LOG_ERR("credentials %s line %d: expected 'principal NAME' (1-63 of "
				"A-Z a-z 0-9 . _ @ -), 'key HEX' or 'key-file PATH'", path, lineno);
			rc = NPMU_E_INVAL;
		}
	}
	fclose(f);
	sodium_memzero(line, sizeof(line));
	sodium_memzero(value, sizeof(value));
	if (rc == 0 && (!have_key || !c->principal[0]))
		LOG_ERR("credentials %s: no %s: expected 'principal NAME' and 'key HEX' or 'key-file "
			"PATH'", path, !c->principal[0] ? "principal" : "key");
	if (rc != 0 || !have_key || !c->principal[0])
		return NPMU_E_CONFIG;
	c->have_creds = true;
	return 0;
}

/* conn_open -- a connection (to a manager, or to a unit for data) with credentials already in
 * memory (principal NULL: none). */
static int conn_open(const struct npmu_conn_cfg *cfg, bool manager, const char *creds_path,
		     const char *principal, const uint8_t *key, struct npmu_conn **conn_ptr)
{
	if (!conn_ptr)
		return NPMU_E_INVAL;
	if (sodium_init() < 0)
		return NPMU_E_INTERNAL;
	npmu__log_env();
	const char *server = cfg && cfg->server ? cfg->server : getenv("NPMU_SERVER");
	if (server && !*server)
		server = NULL; /* NPMU_SERVER="" is unset, not an address */
	const char *provider = cfg && cfg->provider ? cfg->provider : getenv("NPMU_PROVIDER");
	if (!server)
		server = "127.0.0.1";
	if (!provider)
		provider = NPMU_DEFAULT_PROVIDER;
	struct npmu_conn *conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NPMU_E_NOMEM;
	int rc = npmu__rpc_init(&conn->rpc, provider, server,
				cfg && cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000, manager);
	if (rc != 0) {
		free(conn);
		return rc;
	}
	if (creds_path && *creds_path)
		rc = load_credentials(&conn->rpc, creds_path);
	if (rc == 0 && principal)
		npmu__rpc_set_key(&conn->rpc, principal, key);
	const char *io = getenv("NPMU_IO_TIMEOUT_MS");
	conn->io_timeout_ms = cfg && cfg->io_timeout_ms > 0 ? cfg->io_timeout_ms
			      : io && atoi(io) > 0 ? atoi(io) : 1000;
	do
		randombytes_buf(&conn->holder, sizeof(conn->holder));
	while (conn->holder == 0);
	pthread_mutex_init(&conn->ka_lock, NULL);
	pthread_mutex_init(&conn->scratch_lock, NULL);
	pthread_cond_init(&conn->ka_cond, NULL);
	if (rc == 0)
		rc = npmu__rpc_ready(&conn->rpc, conn->rpc.timeout_ms);
	if (rc != 0) {
		npmu__rpc_fini(&conn->rpc);
		pthread_mutex_destroy(&conn->scratch_lock);
		pthread_mutex_destroy(&conn->ka_lock);
		pthread_cond_destroy(&conn->ka_cond);
		sodium_memzero(conn, sizeof(*conn));
		free(conn);
		if (manager && npmu__rpc_silent(rc))
			LOG_DEBUG("no manager answers at %s", server);
		return manager && npmu__rpc_silent(rc) ? NPMU_E_MANAGER : rc;
	}
	*conn_ptr = conn;
	return 0;
}

/* npmu__conn_clone -- a second connection to the same manager with the same credentials. */
int npmu__conn_clone(struct npmu_conn *conn, struct npmu_conn **out)
{
	struct npmu_conn_cfg cfg = {.server = conn->rpc.addr, .provider = conn->rpc.provider,
				    .timeout_ms = conn->rpc.timeout_ms, .credentials = "",
				    .io_timeout_ms = conn->io_timeout_ms};
	pthread_mutex_lock(&conn->rpc.lock);
	char principal[NPMU_ID_MAX + 1];
	uint8_t key[NPMU_KEY_LEN];
	bool creds = conn->rpc.have_creds;
	memcpy(principal, conn->rpc.principal, sizeof(principal));
	memcpy(key, conn->rpc.key, sizeof(key));
	pthread_mutex_unlock(&conn->rpc.lock);
	int rc = conn_open(&cfg, conn->rpc.manager, NULL, creds ? principal : NULL, key, out);
	sodium_memzero(key, sizeof(key));
	return rc;
}

/* npmu_conn_new -- connect to the manager at cfg->server, greet it and authenticate. */
int npmu_conn_new(const struct npmu_conn_cfg *cfg, struct npmu_conn **conn_ptr)
{
	const char *creds = cfg && cfg->credentials ? cfg->credentials : getenv("NPMU_CREDENTIALS");
	return conn_open(cfg, true, creds, NULL, NULL, conn_ptr);
}

/* npmu__conn_unit -- the data connection to unit addr, made (unauthenticated: data operations
 * carry their key as proof) the first time it is needed. */
int npmu__conn_unit(struct npmu_conn *conn, const char *addr, struct npmu_conn **out)
{
	if (!addr[0]) {
		*out = conn;
		return 0;
	}
	for (uint32_t i = 0; i < conn->nunits; i++)
		if (strcmp(conn->units[i]->rpc.addr, addr) == 0) {
			*out = conn->units[i];
			return 0;
		}
	if (conn->nunits == NPMU_UNITS_MAX)
		return NPMU_E_LIMIT;
	struct npmu_conn_cfg cfg = {.server = addr, .provider = conn->rpc.provider,
				    .timeout_ms = conn->rpc.timeout_ms, .credentials = "",
				    .io_timeout_ms = conn->io_timeout_ms};
	struct npmu_conn *u;
	int rc = conn_open(&cfg, false, NULL, NULL, NULL, &u);
	if (rc != 0)
		return rc;
	conn->units[conn->nunits++] = u;
	*out = u;
	return 0;
}

/* keepalive_main -- renew the holder every third of its TTL; a renewal that cannot get the
 * connection within that time (a long transfer on it) is skipped, not queued. */
static void *keepalive_main(void *arg)
{
	struct npmu_conn *conn = arg;
	uint32_t ttl = NPMU_HOLDER_TTL_MS;
	bool told = false;
	pthread_mutex_lock(&conn->ka_lock);
	while (!conn->ka_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)(ttl / 3) * 1000000;
		ts.tv_sec += (time_t)(ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		pthread_cond_timedwait(&conn->ka_cond, &conn->ka_lock, &ts);
		if (conn->ka_stop)
			break;
		pthread_mutex_unlock(&conn->ka_lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ns = (uint64_t)ts.tv_nsec + (uint64_t)(ttl / 3) * 1000000;
		ts.tv_sec += (time_t)(ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		if (pthread_mutex_timedlock(&conn->rpc.lock, &ts) == 0) {
			struct npmu__request req = {.holder = conn->holder};
			const uint8_t *body;
			size_t blen;
			/* a renewal never waits longer than its period */
			int rc = npmu__rpc_call(&conn->rpc, NPMU_MSG_HOLDER, &req, &body, &blen,
						(int)(ttl / 3));
			uint32_t t;
			if (rc == 0 && npmu__reply_holder(body, blen, &t) == 0)
				ttl = t;
			pthread_mutex_unlock(&conn->rpc.lock);
			if (rc != 0 && !told)
				LOG_INFO("holder renewal at %s: %s (retrying)", conn->rpc.addr,
					 npmu_strerror(rc));
			told = rc != 0;
		}
		pthread_mutex_lock(&conn->ka_lock);
	}
	pthread_mutex_unlock(&conn->ka_lock);
	return NULL;
}

/* npmu__conn_hold -- start the holder's renewals (once per connection). */
void npmu__conn_hold(struct npmu_conn *conn)
{
	pthread_mutex_lock(&conn->ka_lock);
	if (!conn->ka_running && !conn->ka_stop && conn->rpc.manager &&
	    pthread_create(&conn->ka, NULL, keepalive_main, conn) == 0)
		conn->ka_running = true;
	pthread_mutex_unlock(&conn->ka_lock);
}

/* npmu_conn_delete -- close a connection and its data connections; NULLs *conn_ptr. */
int npmu_conn_delete(struct npmu_conn **conn_ptr)
{
	if (!conn_ptr || !*conn_ptr)
		return NPMU_E_INVAL;
	struct npmu_conn *conn = *conn_ptr;
	pthread_mutex_lock(&conn->ka_lock);
	conn->ka_stop = true;
	pthread_cond_signal(&conn->ka_cond);
	bool running = conn->ka_running;
	pthread_mutex_unlock(&conn->ka_lock);
	if (running)
		pthread_join(conn->ka, NULL);
	for (uint32_t i = 0; i < conn->nunits; i++)
		npmu_conn_delete(&conn->units[i]);
	npmu__rpc_fini(&conn->rpc);
	free(conn->scratch);
	pthread_mutex_destroy(&conn->scratch_lock);
	pthread_mutex_destroy(&conn->ka_lock);
	pthread_cond_destroy(&conn->ka_cond);
	sodium_memzero(conn, sizeof(*conn));
	free(conn);
	*conn_ptr = NULL;
	return 0;
}

/* name_request -- a request carrying a validated region name. */
static int name_request(const char *name, struct npmu__request *req)
{
	memset(req, 0, sizeof(*req));
	if (!name)
		return NPMU_E_INVAL;
	size_t n = strnlen(name, NPMU_NAME_MAX + 1);
	if (!npmu__name_valid(name, n))
		return NPMU_E_NAME;
	memcpy(req->name, name, n);
	return 0;
}

/* npmu__open_call -- ask the manager for a right to region name (OPEN, showing lease) and
 * decode its answer into *o; conn->rpc.lock held. */
int npmu__open_call(struct npmu_conn *conn, const char *name, enum npmu_access access,
		    uint64_t lease, struct npmu__open_reply *o)
{
	struct npmu__request req;
	int rc = name_request(name, &req);
	if (rc != 0)
		return rc;
	req.access = access;
	req.lease = lease;
	req.holder = conn->holder;
	const uint8_t *body;
	size_t blen;
	rc = npmu__conn_call(conn, NPMU_MSG_OPEN, &req, &body, &blen);
	return rc == 0 ? npmu__reply_open(body, blen, (uint32_t)access, o) : rc;
}

/* info_call -- a request whose reply is one region_info. */
static int info_call(struct npmu_conn *conn, uint16_t type, struct npmu__request *req,
		     struct npmu_region_info *info)
{
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&conn->rpc.lock);
	int rc = npmu__conn_call(conn, type, req, &body, &blen);
	if (rc == 0) {
		struct npmu_region_info tmp;
		rc = npmu__reply_info(body, blen, &tmp);
		if (rc == 0 && info)
			*info = tmp;
	}
	pthread_mutex_unlock(&conn->rpc.lock);
	return rc;
}

/* npmu_region_create_ex -- create a region with options: its unit(s), mirrored or not. */
int npmu_region_create_ex(struct npmu_conn *conn, const char *name, uint64_t size,
			  const struct npmu_region_opts *opts, struct npmu_region_info *info)
{
	struct npmu__request req;
	int rc = name_request(name, &req);
	const char *unit = opts && opts->unit ? opts->unit : "";
	const char *unit2 = opts && opts->mirror_unit ? opts->mirror_unit : "";
	if (!conn || size == 0 || strlen(unit) > NPMU_ADDR_STR_MAX ||
	    strlen(unit2) > NPMU_ADDR_STR_MAX || (unit2[0] && !(opts && opts->mirror)))
		return NPMU_E_INVAL;
	if (rc != 0)
		return rc;
	req.size = size;
	req.copies = opts && opts->mirror ? 2 : 1;
	snprintf(req.unit, sizeof(req.unit), "%s", unit);
	snprintf(req.unit2, sizeof(req.unit2), "%s", unit2);
	return info_call(conn, NPMU_MSG_CREATE, &req, info);
}

/* npmu_region_create_on -- (deprecated) npmu_region_create_ex with opts.unit. */
int npmu_region_create_on(struct npmu_conn *conn, const char *name, uint64_t size,
			  const char *unit, struct npmu_region_info *info)
{
	struct npmu_region_opts opts = {.unit = unit};
	return npmu_region_create_ex(conn, name, size, &opts, info);
}

/* npmu_region_create -- create a region NAME of SIZE bytes where the manager chooses. */
int npmu_region_create(struct npmu_conn *conn, const char *name, uint64_t size,
		       struct npmu_region_info *info)
{
	return npmu_region_create_ex(conn, name, size, NULL, info);
}

/* npmu_region_resize -- grow a region. */
int npmu_region_resize(struct npmu_conn *conn, const char *name, uint64_t size,
		       struct npmu_region_info *info)
{
	struct npmu__request req;
	int rc = name_request(name, &req);
	if (!conn || size == 0)
		return NPMU_E_INVAL;
	if (rc != 0)
		return rc;
	req.size = size;
	return info_call(conn, NPMU_MSG_RESIZE, &req, info);
}

/* npmu_region_stat -- describe one region. */
int npmu_region_stat(struct npmu_conn *conn, const char *name, struct npmu_region_info *info)
{
	struct npmu__request req;
	int rc = name_request(name, &req);
	if (!conn || !info)
		return NPMU_E_INVAL;
	if (rc != 0)
		return rc;
	return info_call(conn, NPMU_MSG_STAT, &req, info);
}

/* npmu_region_where -- the units holding a region (WHERE), from a manager that answers it. */
int npmu_region_where(struct npmu_conn *conn, const char *name, struct npmu_region_place *place)
{
	struct npmu__request req;
	int rc = name_request(name, &req);
	if (!conn || !place)
		return NPMU_E_INVAL;
	if (rc != 0)
		return rc;
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&conn->rpc.lock);
	rc = npmu__rpc_ready(&conn->rpc, conn->rpc.timeout_ms);
	if (rc == 0 && !(conn->rpc.unit_flags & NPMU_UNIT_WHERE))
		rc = NPMU_E_VERSION; /* (an older manager would drop the request unanswered) */
	if (rc == 0)
		rc = npmu__conn_call(conn, NPMU_MSG_WHERE, &req, &body, &blen);
	if (rc == 0)
		rc = npmu__reply_where(body, blen, place);
	pthread_mutex_unlock(&conn->rpc.lock);
	return rc;
}

/* name_call -- a request that names a region, on the locked connection; the reply's status. */
static int name_call(struct npmu_conn *conn, uint16_t type, const char *name, uint32_t *count)
{
	struct npmu__request req;
	int rc = name_request(name, &req);
	if (!conn)
		return NPMU_E_INVAL;
	if (rc != 0)
		return rc;
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&conn->rpc.lock);
	rc = npmu__conn_call(conn, type, &req, &body, &blen);
	if (rc == 0 && count) {
		rc = npmu__reply_u32(body, blen, count);
	}
	pthread_mutex_unlock(&conn->rpc.lock);
	return rc;
}

/* npmu_region_delete -- delete a region (revoking every right to it). */
int npmu_region_delete(struct npmu_conn *conn, const char *name)
{
	return name_call(conn, NPMU_MSG_DELETE, name, NULL);
}

/* npmu_region_revoke -- close every right to a region; returns how many. */
int npmu_region_revoke(struct npmu_conn *conn, const char *name)
{
	uint32_t n = 0;
	int rc = name_call(conn, NPMU_MSG_REVOKE, name, &n);
	return rc == 0 ? (int)n : rc;
}

/* npmu_region_list -- every region the caller may see, fetched a page at a time. */
int npmu_region_list(struct npmu_conn *conn, struct npmu_region_info **list, size_t *count)
{
	if (!conn || !list || !count)
		return NPMU_E_INVAL;
	struct npmu_region_info *out = NULL;
	size_t n = 0;
	uint32_t start = 0;
	int rc = 0;
	pthread_mutex_lock(&conn->rpc.lock);
	for (int pages = 0; pages < (1 << 16); pages++) {
		struct npmu__request req = {.start = start};
		const uint8_t *body;
		size_t blen;
		rc = npmu__conn_call(conn, NPMU_MSG_LIST, &req, &body, &blen);
		if (rc != 0)
			break;
		struct npmu__list_page page;
		if ((rc = npmu__reply_list(body, blen, start, &page)) != 0)
			break;
		void *p = realloc(out, (n + page.count + 1) * sizeof(*out));
		if (!p) {
			free(page.infos);
			rc = NPMU_E_NOMEM;
			break;
		}
		out = p;
		if (page.count)
			memcpy(out + n, page.infos, page.count * sizeof(*out));
		free(page.infos);
		n += page.count;
		start = page.next;
		if (page.last)
			break;
	}
	pthread_mutex_unlock(&conn->rpc.lock);
	if (rc != 0) {
		free(out);
		return rc;
	}
	*list = out ? out : calloc(1, sizeof(*out));
	*count = n;
	return *list ? 0 : NPMU_E_NOMEM;
}

/* npmu_unit_list -- the manager's units with their state and capacity. */
int npmu_unit_list(struct npmu_conn *conn, struct npmu_unit_info **list, size_t *count)
{
	if (!conn || !list || !count)
		return NPMU_E_INVAL;
	struct npmu__request req = {0};
	const uint8_t *body;
	size_t blen;
	pthread_mutex_lock(&conn->rpc.lock);
	int rc = npmu__conn_call(conn, NPMU_MSG_UNITS, &req, &body, &blen);
	struct npmu_unit_info *out = NULL;
	size_t n = 0;
	if (rc == 0)
		rc = npmu__reply_units(body, blen, &out, &n);
	pthread_mutex_unlock(&conn->rpc.lock);
	if (rc == 0) {
		*list = out;
		*count = n;
	}
	return rc;
}
