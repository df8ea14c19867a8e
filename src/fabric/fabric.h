/* fabric.h -- the libfabric wrapper shared by units and clients: one RDM endpoint, its CQ and AV. */
#ifndef NPMU_FABRIC_H
#define NPMU_FABRIC_H

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/*
 * One endpoint of type FI_EP_RDM carries both the control messages (fi_send/fi_recv) and the
 * one-sided data path (fi_write/fi_read). Transmit operations complete with delivery-complete
 * semantics. The CQ has a wait object (FI_WAIT_FD) so a unit can sleep in poll() when idle.
 */
struct npmu__fabric {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_ep *ep;
	struct fid_av *av;
	struct fid_cq *cq;
	int wait_fd;               /* CQ wait fd, or -1 when the provider has none */
	uint8_t name[NPMU_WIRE_ADDR_MAX];
	size_t name_len;           /* our own fabric address */
	bool virt_addr;            /* FI_MR_VIRT_ADDR: RMA addresses are virtual, not offsets */
	bool prov_key;             /* FI_MR_PROV_KEY: keys come from the provider */
	bool local_mr;             /* FI_MR_LOCAL: local buffers need registering */
	bool mr_endpoint;          /* FI_MR_ENDPOINT: registrations are bound to the endpoint */
	size_t max_rma;            /* largest single RMA transfer */
	size_t av_count;           /* peers its address vector holds */
	/* FI_ORDER_SAW: a send leaves after the writes posted before it; on a reliable connection
	 * (rxm over tcp, verbs RC) the target handles the message only after their data is
	 * placed, so a PERSIST may follow writes without waiting for their completions */
	bool send_after_write;
};

/*
 * What an endpoint keeps in flight, by role: the depths it asks the provider for (fi_getinfo's
 * tx/rx sizes) and sizes its CQ and AV to. A server (npmud, pmmd: listen) keeps the service's
 * receives posted and its replies in flight, and answers many peers; a client keeps one receive
 * posted for its one request's answer, and that request plus a transfer's window in flight, to
 * one peer. Users check their own depths against these (service.c, transfer.c).
 */
#define NPMU_FABRIC_SERVER_RX 128    /* receives posted at once */
#define NPMU_FABRIC_SERVER_TX 128    /* replies in flight */
#define NPMU_FABRIC_SERVER_PEERS 4096 /* addresses in its AV (it grows past this if need be) */
#define NPMU_FABRIC_CLIENT_RX 8
#define NPMU_FABRIC_CLIENT_TX 64     /* one request and its transfers (fi_write/fi_read) */
#define NPMU_FABRIC_CLIENT_PEERS 4

/*
 * npmu__fabric_open -- open provider `provider` and an endpoint. A unit (listen) binds to
 * node:service; a client resolves node:service as its destination (dest_addr in info).
 */
int npmu__fabric_open(const char *provider, const char *node, const char *service, bool listen,
		      struct npmu__fabric **fab_ptr);

/* npmu__fabric_close -- close everything; NULLs *fab_ptr. */
void npmu__fabric_close(struct npmu__fabric **fab_ptr);

/*
 * npmu__fabric_abandon -- give up an endpoint whose transfers are still in flight (their peer
 * stopped answering). It is not closed: libfabric 1.17's tcp;ofi_rxm crashes closing an
 * endpoint in that state, then or at any later time (a cancelled transfer reaches rxm without
 * its context). It is never progressed again either, so its transfers never touch the
 * caller's buffers after this: progressing it to learn when they end would let a read's late
 * answer land in a buffer the caller has reused, or a late write reach the unit, so it cannot
 * be closed "once idle" either. It stays open, unused, until the process exits (each one is
 * logged with the count so far; each holds the provider's buffers, about 2.3 MiB on tcp
 * with provider_defaults' settings, 36 MiB without).
 * NULLs *fab_ptr.
 */
void npmu__fabric_abandon(struct npmu__fabric **fab_ptr);

/* npmu__fabric_abandoned -- how many endpoints this process has abandoned so far. */
size_t npmu__fabric_abandoned(void);

/*
 * npmu__fabric_cq_read -- fi_cq_read with errno cleared first. libfabric 1.17's tcp provider
 * judges a connection request's socket that reached end-of-file before its first message by
 * errno ("would block" when errno holds a stale EAGAIN): it then keeps the closed socket in its
 * connection manager's poll set, readable forever, and every server progressing it spins at
 * 100% of a core (a bare TCP connect and close, a port scan, or a client's liveness probe was
 * enough). With errno clear the provider closes that socket on the next progress.
 */
ssize_t npmu__fabric_cq_read(struct npmu__fabric *fab, void *buf, size_t count);

/*
 * npmu__fabric_wait -- sleep until one of the n endpoints' completion queues may have something
 * (their wait fds), at most timeout_ms; returns at once when one already has (fi_trywait) or
 * when an endpoint has no wait fd (the caller then naps instead: false). A waiter that has
 * spun and yielded for a millisecond sleeps here rather than napping, so 64 clients on two
 * cores leave the unit they wait for its core and wake when their answer comes. Returns true
 * when it waited or found work.
 */
bool npmu__fabric_wait(struct npmu__fabric *const *fabs, int n, int timeout_ms);

/* npmu__fabric_addr_str -- "host:port" of a socket-style fabric address, for printing. */
int npmu__fabric_addr_str(const struct npmu__fabric *fab, const void *addr, char *buf, size_t len);

/*
 * npmu__fabric_mr_reg -- register [buf, buf+len) for remote access under key `requested`
 * (or the provider's key when prov_key); binds and enables it when mr_endpoint.
 */
int npmu__fabric_mr_reg(struct npmu__fabric *fab, void *buf, size_t len, uint64_t access,
			uint64_t requested, struct fid_mr **mr, uint64_t *key);

/*
 * npmu__fabric_refused -- whether the peer at addr (an address of fab's format) cannot be
 * reached now: it refuses TCP connections (nothing listens there) or there is no route to it.
 * Only for socket-address providers (tcp); false when it cannot tell, or when something
 * answers. Waits at most 100 ms.
 */
bool npmu__fabric_refused(const struct npmu__fabric *fab, const void *addr);

/* npmu__fabric_tcp -- whether fab's addresses are TCP ports (tcp or sockets provider). */
bool npmu__fabric_tcp(const struct npmu__fabric *fab);

/* npmu__addr_refused -- whether the socket address addr (addr_len bytes; AF_INET or AF_INET6)
 * refuses TCP connections; false when it cannot tell or something answers. 100 ms at most. */
bool npmu__addr_refused(const void *addr, size_t addr_len);

/* npmu__fabric_is_loopback -- whether our own address is a loopback one (127/8 or ::1), or
 * the provider reaches only this host (shm: the unit and its clients share the machine). */
bool npmu__fabric_is_loopback(const struct npmu__fabric *fab);

/* npmu__split_hostport -- split "host:port" or "[v6]:port" (port optional: default_port). */
int npmu__split_hostport(const char *text, char *host, size_t hostlen, char *port, size_t portlen,
			 int default_port);

#endif
