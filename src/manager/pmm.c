/* pmm.c -- the manager's request handling: names to regions, rights to registrations on a unit. */
#include "pmm.h"

/* npmu__pmm_handle -- serve one manager request and encode the reply body. */
int npmu__pmm_handle(struct npmu__pmm *pmm, uint16_t type, const struct npmu__request *req,
		     struct npmu__cursor *reply)
{
	struct npmu_region_info info;
	struct npmu__access_info ai;
	int rc;
	switch (type) {
	case NPMU_MSG_CREATE:
		rc = pmm->ops->create(pmm->unit, req->name, req->size, &info);
		if (rc == 0)
			npmu__info_put(reply, &info);
		return rc;
	case NPMU_MSG_RESIZE:
		rc = pmm->ops->resize(pmm->unit, req->name, req->size, &info);
		if (rc == 0)
			npmu__info_put(reply, &info);
		return rc;
	case NPMU_MSG_STAT:
		rc = pmm->ops->stat(pmm->unit, req->name, &info);
		if (rc == 0)
			npmu__info_put(reply, &info);
		return rc;
	case NPMU_MSG_OPEN:
		rc = pmm->ops->grant(pmm->unit, req->name, req->access, &info, &ai);
		if (rc == 0) {
			npmu__info_put(reply, &info);
			npmu__access_put(reply, &ai);
		}
		return rc;
	case NPMU_MSG_CLOSE: return pmm->ops->revoke(pmm->unit, req->region_id, req->key);
	case NPMU_MSG_DELETE: return pmm->ops->remove(pmm->unit, req->name);
	case NPMU_MSG_LIST: {
		struct npmu_region_info page[NPMU_LIST_PAGE];
		uint32_t total = 0;
		rc = pmm->ops->list(pmm->unit, req->start, page, NPMU_LIST_PAGE, &total);
		if (rc < 0)
			return rc;
		npmu__put_u32(reply, total);
		npmu__put_u32(reply, (uint32_t)rc);
		for (int i = 0; i < rc; i++)
			npmu__info_put(reply, &page[i]);
		return 0;
	}
	default: return NPMU_E_PROTO;
	}
}
