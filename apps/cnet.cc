#include "cli/cli.h"

int main(int argc, char** argv) { return cnet::RunCli(argc, argv); }
