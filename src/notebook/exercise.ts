/**
 * Checks a reader's answer to an exercise and says whether it did what was asked.
 * Never throws: an unsolved exercise is not an error, so notebooks still run top to bottom.
 * Returns nothing so that tslab prints no stray value after the message.
 */
export function checkExercise(name: string, passed: boolean, hint: string): void {
  console.log(passed ? `✔ ${name}: well done.` : `✘ ${name}: not yet. ${hint}`);
}
