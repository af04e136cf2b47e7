/*
 * ior_mini_rank: one rank of an MPI job that uses libbenchfs the way the IOR
 * backend does in a mini deployment (test_ior_support runs it under mpirun).
 *
 *   ior_mini_rank SERVERS ROUNDS
 *
 * Every round is one IOR test: benchfs_ior_initialize (twice, reference
 * counted) over MPI_COMM_WORLD with the first SERVERS ranks hosting servers,
 * then a shared file opened by every rank with IOR's create flags
 * (WRONLY|CREAT|TRUNC) following benchfs_ior_plan_open, where rank 0 writes
 * its block before the other ranks open: none of them may truncate it. Every
 * rank writes its block (crossing chunks), all read the whole file back and
 * compare, rank 0 checks the size, and the round ends with two finalizes
 * after which rank 0 checks that the registry directory it created is gone.
 * Prints "ior_mini_rank: ok" on rank 0 and exits 0, or names the failing
 * step and aborts the job.
 */
#define _GNU_SOURCE

#include <benchfs/benchfs.h>
#include <benchfs/benchfs_ior.h>
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK ((size_t)(1024 * 1024 + 4097))

static int g_rank;

static void die(const char* step) {
  fprintf(stderr, "ior_mini_rank %d: %s failed: %s (errno %d): %s\n", g_rank, step, strerror(errno), errno,
          benchfs_last_error());
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

static void comm_barrier(void* arg) { MPI_Barrier(*(MPI_Comm*)arg); }

static void comm_broadcast(void* arg, void* buf, size_t len) {
  MPI_Bcast(buf, (int)len, MPI_BYTE, 0, *(MPI_Comm*)arg);
}

static unsigned char pattern(int rank, size_t i) {
  return (unsigned char)((i * 131u + (unsigned)rank * 17u) % 251u);
}

static void round_trip(int servers, int round, int size) {
  MPI_Comm all = MPI_COMM_NULL, srv = MPI_COMM_NULL;
  benchfs_ior_settings s;
  benchfs_ior_group g_all, g_srv;
  benchfs_ior_open_plan plan;
  char registry[4200];
  char path[64];
  unsigned char* buf = malloc(BLOCK * (size_t)size);
  int fd, r;

  if (buf == NULL) die("malloc");
  MPI_Comm_dup(MPI_COMM_WORLD, &all);
  MPI_Comm_split(all, g_rank < servers ? 0 : MPI_UNDEFINED, g_rank, &srv);
  memset(&g_all, 0, sizeof g_all);
  memset(&g_srv, 0, sizeof g_srv);
  g_all.rank = g_rank;
  g_all.size = size;
  g_all.barrier = comm_barrier;
  g_all.broadcast = comm_broadcast;
  g_all.arg = &all;
  if (srv != MPI_COMM_NULL) {
    MPI_Comm_rank(srv, &g_srv.rank);
    MPI_Comm_size(srv, &g_srv.size);
    g_srv.barrier = comm_barrier;
    g_srv.broadcast = comm_broadcast;
    g_srv.arg = &srv;
  }
  benchfs_ior_settings_init(&s);
  s.servers = servers;
  s.threads = 1;
  s.listen = "127.0.0.1:0";
  s.client_id = "mini";
  if (benchfs_ior_initialize(&s, &g_all, srv != MPI_COMM_NULL ? &g_srv : NULL, g_rank) != 1)
    die("benchfs_ior_initialize");
  if (benchfs_ior_initialize(&s, &g_all, srv != MPI_COMM_NULL ? &g_srv : NULL, g_rank) != 2)
    die("benchfs_ior_initialize (second, counted)");
  if (benchfs_server_count() != servers) die("benchfs_server_count");
  snprintf(registry, sizeof registry, "%s", benchfs_ior_registry());

  /* The shared file: rank 0 creates, truncates and writes first. */
  snprintf(path, sizeof path, "/shared.%d", round);
  if (benchfs_ior_plan_open(BENCHFS_IOR_WRONLY | BENCHFS_IOR_CREAT | BENCHFS_IOR_TRUNC,
                            g_rank == 0 ? BENCHFS_IOR_OPEN_SHARED_FIRST : BENCHFS_IOR_OPEN_SHARED_OTHER,
                            &plan) != 0)
    die("benchfs_ior_plan_open");
  if (!plan.barrier) die("plan without barrier");
  for (size_t i = 0; i < BLOCK; ++i) buf[i] = pattern(g_rank, i);
  if (g_rank == 0) {
    fd = benchfs_open(path, plan.flags, 0644);
    if (fd < 0) die("open (first)");
    if (benchfs_ior_xfer(fd, 1, buf, BLOCK, 0) != (ssize_t)BLOCK) die("write (first)");
    if (benchfs_fsync(fd) != 0) die("fsync (first)");
    MPI_Barrier(all);
  } else {
    MPI_Barrier(all);
    fd = benchfs_open(path, plan.flags, 0644);
    if (fd < 0) die("open (other)");
    if (benchfs_ior_xfer(fd, 1, buf, BLOCK, (off_t)(BLOCK * (size_t)g_rank)) != (ssize_t)BLOCK) die("write");
  }
  if (benchfs_close(fd) != 0) die("close");
  MPI_Barrier(all);

  fd = benchfs_open(path, O_RDONLY, 0);
  if (fd < 0) die("open for reading");
  memset(buf, 0, BLOCK * (size_t)size);
  if (benchfs_ior_xfer(fd, 0, buf, BLOCK * (size_t)size, 0) != (ssize_t)(BLOCK * (size_t)size))
    die("read back");
  for (r = 0; r < size; ++r) {
    for (size_t i = 0; i < BLOCK; ++i) {
      if (buf[(size_t)r * BLOCK + i] != pattern(r, i)) {
        errno = EIO;
        fprintf(stderr, "ior_mini_rank %d: block of rank %d differs at byte %zu\n", g_rank, r, i);
        die("compare");
      }
    }
  }
  /* One byte more than the file holds: exact transfers fail with EIO. */
  if (benchfs_ior_xfer(fd, 0, buf, 1, (off_t)(BLOCK * (size_t)size)) != -1 || errno != EIO)
    die("read past the end must fail");
  if (benchfs_close(fd) != 0) die("close (reader)");
  MPI_Barrier(all);
  if (g_rank == 0) {
    struct stat st;
    if (benchfs_stat(path, &st) != 0) die("stat");
    if (st.st_size != (off_t)(BLOCK * (size_t)size)) {
      errno = EIO;
      die("size check");
    }
    if (benchfs_unlink(path) != 0) die("unlink");
  }

  if (benchfs_ior_finalize() != 1) die("benchfs_ior_finalize (first, counted)");
  if (benchfs_ior_finalize() != 0) die("benchfs_ior_finalize");
  if (benchfs_server_count() != -1) die("still connected after the last finalize");
  if (g_rank == 0 && access(registry, F_OK) == 0) {
    errno = EEXIST;
    die("registry directory left behind");
  }
  if (srv != MPI_COMM_NULL) MPI_Comm_free(&srv);
  MPI_Comm_free(&all);
  free(buf);
}

int main(int argc, char** argv) {
  int size, servers, rounds;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc != 3) {
    fprintf(stderr, "usage: ior_mini_rank SERVERS ROUNDS\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  servers = atoi(argv[1]);
  rounds = atoi(argv[2]);
  for (int round = 0; round < rounds; ++round) round_trip(servers, round, size);
  if (g_rank == 0) printf("ior_mini_rank: ok\n");
  MPI_Finalize();
  return 0;
}
