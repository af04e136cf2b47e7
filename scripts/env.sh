# Sourced by the scripts: environment for running BenchFS on one machine.
# Open MPI refuses to run as root without these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Single-machine runs: UCX over loopback (its connection manager needs tcp on
# lo; data then moves over shared memory). Override for multi-node runs.
export UCX_NET_DEVICES=${UCX_NET_DEVICES:-lo}
# MPI's own traffic: shared memory, never our UCX context.
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1} OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader}
export OMPI_MCA_oob_tcp_if_include=${OMPI_MCA_oob_tcp_if_include:-lo}
