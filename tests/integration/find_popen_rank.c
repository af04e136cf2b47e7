/* One rank of an MPI job that runs a command the way io500 runs its [find]
 * external-script: rank 0 popen()s it (so the command inherits this
 * process's MPI launcher variables) and reads its stdout; the others wait in
 * a barrier. Prints the command's lines prefixed "out: ", then
 * "status <pclose status>".
 *   mpirun -np K find_popen_rank 'COMMAND' */
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int rc = 0;
  if (rank == 0) {
    if (argc != 2) {
      fprintf(stderr, "usage: find_popen_rank COMMAND\n");
      rc = 2;
    } else {
      FILE* fp = popen(argv[1], "r");
      if (fp == NULL) {
        perror("popen");
        rc = 1;
      } else {
        char line[4096];
        while (fgets(line, sizeof line, fp) != NULL) printf("out: %s", line);
        const int st = pclose(fp);
        printf("status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        fflush(stdout);
      }
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  MPI_Finalize();
  return rc;
}
