/* cmd_ml.h — the ML_JOB commands (SPEC §12): `tradebench build-ml-dataset`
 * and `tradebench train-meta-model`. Each takes the arguments after its name
 * and returns the exit status (0 success, 2 bad usage or input, 1 other). */
#ifndef TB_CLI_CMD_ML_H
#define TB_CLI_CMD_ML_H

int cmd_build_ml_dataset(int argc, char **argv);
int cmd_train_meta_model(int argc, char **argv);

#endif
