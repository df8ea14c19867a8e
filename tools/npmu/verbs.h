/* verbs.h -- the npmu command's verbs; each takes its words from argv[0] (the verb) on and
 * returns the exit status. */
#ifndef NPMU_TOOL_VERBS_H
#define NPMU_TOOL_VERBS_H

int cmd_region(int argc, char **argv); /* region.c: region create|grow|ls|stat|rm|revoke|resync */
int cmd_put(int argc, char **argv);    /* data.c: a file into a region */
int cmd_get(int argc, char **argv);    /* data.c: a region into a file */
int cmd_unit(int argc, char **argv);   /* unit.c: unit ls|stat */
int cmd_top(int argc, char **argv);    /* top.c: a live view of units, regions and leases */
int cmd_stripe(int argc, char **argv); /* stripe.c: stripe put|get|stat|rebuild|rm */
int cmd_dataset(int argc, char **argv); /* dataset.c: dataset ls|stat|get|rm|pin */
int cmd_ckpt(int argc, char **argv);   /* ckpt.c: ckpt stat|dump */
int cmd_keygen(int argc, char **argv); /* keygen.c: a new key file */

#endif
