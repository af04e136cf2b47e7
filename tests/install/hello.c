/*
 * hello: a tiny C99 consumer of the *installed* libbenchfs (tests/install).
 *
 * Built twice by install_test.sh, once with pkg-config and once through
 * find_package(benchfs), then run. It does real work rather than only link:
 * starts an in-process server on loopback, connects to it, writes a file of
 * 1 MiB + 3 bytes (more than one 1 MiB chunk, not a multiple of it), reads
 * it back, checks the size and removes it. Prints "hello: ok" and exits 0,
 * or names the failing step with benchfs_last_error() and exits 1.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */

#include <benchfs/benchfs.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILE_SIZE ((size_t)(1024 * 1024 + 3))

static int fail(const char* step) {
  int err = errno;
  fprintf(stderr, "hello: %s failed: %s (errno %d): %s\n", step, strerror(err), err, benchfs_last_error());
  return 1;
}

static int remove_entry(const char* path, const struct stat* st, int type, struct FTW* ftw) {
  (void)st;
  (void)type;
  (void)ftw;
  return remove(path);
}

/* Writes, reads back and removes /hello; 0 on success. */
static int exercise_file(unsigned char* out, unsigned char* in) {
  size_t i;
  int fd;
  ssize_t n;
  struct stat st;

  /* A period of 251 (prime) so that a chunk read from the wrong offset
   * does not match by accident. */
  for (i = 0; i < FILE_SIZE; ++i) out[i] = (unsigned char)((i * 31u + 7u) % 251u);

  fd = benchfs_open("/hello", O_CREAT | O_EXCL | O_WRONLY, 0644);
  if (fd < 0) return fail("benchfs_open(O_CREAT|O_EXCL|O_WRONLY)");
  n = benchfs_pwrite(fd, out, FILE_SIZE, 0);
  if (n != (ssize_t)FILE_SIZE) {
    if (n >= 0) {
      fprintf(stderr, "hello: benchfs_pwrite wrote %zd of %zu bytes\n", n, FILE_SIZE);
      return 1;
    }
    return fail("benchfs_pwrite");
  }
  if (benchfs_close(fd) != 0) return fail("benchfs_close (writer)");

  fd = benchfs_open("/hello", O_RDONLY, 0);
  if (fd < 0) return fail("benchfs_open(O_RDONLY)");
  /* Ask for more than there is: a read at end of file comes back short. */
  memset(in, 0xAA, FILE_SIZE + 16);
  n = benchfs_pread(fd, in, FILE_SIZE + 16, 0);
  if (n < 0) return fail("benchfs_pread");
  if (n != (ssize_t)FILE_SIZE) {
    fprintf(stderr, "hello: benchfs_pread returned %zd, expected %zu\n", n, FILE_SIZE);
    return 1;
  }
  if (memcmp(in, out, FILE_SIZE) != 0) {
    for (i = 0; i < FILE_SIZE && in[i] == out[i]; ++i) {
    }
    fprintf(stderr, "hello: data read back differs at byte %zu (0x%02x, wrote 0x%02x)\n", i, in[i], out[i]);
    return 1;
  }
  if (benchfs_close(fd) != 0) return fail("benchfs_close (reader)");

  if (benchfs_stat("/hello", &st) != 0) return fail("benchfs_stat");
  if (!S_ISREG(st.st_mode) || st.st_size != (off_t)FILE_SIZE) {
    fprintf(stderr, "hello: benchfs_stat: mode 0%o size %lld, expected a regular file of %zu\n",
            (unsigned)st.st_mode, (long long)st.st_size, FILE_SIZE);
    return 1;
  }

  if (benchfs_unlink("/hello") != 0) return fail("benchfs_unlink");
  if (benchfs_stat("/hello", &st) == 0 || errno != ENOENT) {
    fprintf(stderr, "hello: /hello still there after benchfs_unlink\n");
    return 1;
  }
  return 0;
}

int main(void) {
  /* The registry lives under $TMPDIR (install_test.sh points it at its own
   * temporary directory, which it removes). */
  const char* tmp = getenv("TMPDIR");
  char registry[4096];
  benchfs_server_config scfg;
  benchfs_config cfg;
  benchfs_server* server;
  unsigned char* out = malloc(FILE_SIZE);
  unsigned char* in = malloc(FILE_SIZE + 16);
  int rc = 1;

  /* Line-buffered, so that under ctest our lines and the library's log
   * (stderr) come out in order. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (!out || !in) {
    fprintf(stderr, "hello: out of memory\n");
    return 1;
  }
  snprintf(registry, sizeof registry, "%s/benchfs-hello-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(registry)) {
    perror("hello: mkdtemp");
    return 1;
  }

  benchfs_server_config_init(&scfg);
  scfg.registry = registry;
  scfg.threads = 1;
  scfg.listen = "127.0.0.1:0";
  server = benchfs_server_start(&scfg);
  if (!server) {
    rc = fail("benchfs_server_start");
    goto out;
  }
  printf("hello: server at %s\n", benchfs_server_address(server));

  benchfs_config_init(&cfg);
  cfg.registry = registry;
  if (benchfs_init(&cfg) != 0) {
    rc = fail("benchfs_init");
  } else {
    rc = exercise_file(out, in);
    if (benchfs_finalize() != 0 && rc == 0) rc = fail("benchfs_finalize");
  }
  if (benchfs_server_stop(server) != 0 && rc == 0) rc = fail("benchfs_server_stop");

out:
  nftw(registry, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(out);
  free(in);
  if (rc == 0) printf("hello: ok\n");
  return rc;
}
