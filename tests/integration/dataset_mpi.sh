#!/usr/bin/env bash
# dataset_mpi.sh -- examples/mpi_heat.c under Open MPI on six units (pmmd, loopback): a job
# killed mid-checkpoint twice, each time with a unit, and restarted on 4, 3, then 4 ranks ends
# with the grid of a job that never failed, bit for bit (the scenario: heat_job.sh).
set -euo pipefail
build=$1
here=$(dirname "$0")
. "$here/units.sh"
prog=mpi_heat
heat="$build/tests/mpi_heat"
command -v mpirun >/dev/null || { echo "mpirun not found (scripts/install-deps.sh installs Open MPI)"; exit 1; }

# Open MPI in this container: we run as root; 4 ranks share 2 cores; one host, so shared
# memory (vader) and self only, ob1 without libfabric (npmu's own libfabric endpoints stay
# alone); the session directory and vader's segments under $dir, so a killed job leaves
# nothing behind in /tmp or /dev/shm.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_mtl=^ofi
export OMPI_MCA_orte_tmpdir_base=$dir OMPI_MCA_btl_vader_backing_directory=$dir
# Under make test-asan: what Open MPI allocates for itself (in MPI_Init and its components,
# often unloaded by exit, and its progress thread) it leaves at exit; those leaks are suppressed
# by Open MPI's libraries, added to the suppressions in use. Everything npmu and the example
# allocate stays checked (their stacks hold none of these libraries).
supp=$(sed -n 's/.*suppressions=\([^:]*\).*/\1/p' <<<"${LSAN_OPTIONS:-}")
{ if [ -n "$supp" ]; then cat "$supp"; fi
  printf 'leak:%s\n' libmpi.so libopen-rte.so libopen-pal.so libpmix.so libhwloc.so libevent_core
} >"$dir/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$dir/lsan.supp"
# launch NP LOG ARGS...: mpirun in the background (its ranks inherit the environment)
launch() {
  local np=$1 log=$2; shift 2
  mpirun -np "$np" "$heat" "$@" >"$log" 2>&1 &
  job_pid=$!
}

UNIT_TIMEOUT_MS=5000 start_units
. "$here/heat_job.sh"
