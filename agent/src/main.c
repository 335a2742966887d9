/* Placeholder until the agent core lands (issue 4). */
#include <stdio.h>
int main(void) { fputs("omega-agent: not built yet\n", stderr); return 1; }
