#!/usr/bin/env bash
# dataset_procs.sh -- examples/procs_heat.c, the heat job as plain forked processes without MPI,
# on six units (pmmd, loopback): killed mid-checkpoint twice, each time with a unit, and
# restarted on 4, 3, then 4 processes, it ends with the grid of a job that never failed, bit for
# bit (the scenario: heat_job.sh). The dataset API needs no MPI.
set -euo pipefail
build=$1
here=$(dirname "$0")
. "$here/units.sh"
prog=procs_heat
heat="$build/tests/procs_heat"
# launch NP LOG ARGS...: the job's parent in the background; it forks the NP processes
launch() {
  local np=$1 log=$2; shift 2
  "$heat" "$np" "$@" >"$log" 2>&1 &
  job_pid=$!
}

UNIT_TIMEOUT_MS=5000 start_units
. "$here/heat_job.sh"
