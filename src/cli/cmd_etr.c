#include "cli.h"
int cmd_etr(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return CLI_FAIL;
}
