/**
 * Checks a reader's answer to an exercise and says whether it did what was asked; `hint` guides
 * a wrong answer, and is held back while the cell still holds the value it shipped with
 * (`tried` false), so that the first run does not give the answer away.
 * Never throws: an unsolved exercise is not an error, so notebooks still run top to bottom.
 * Returns nothing so that tslab prints no stray value after the message.
 */
export function checkExercise(name: string, passed: boolean, hint: string, tried = true): void {
  if (passed) console.log(`✔ ${name}: well done.`);
  else if (!tried)
    console.log(
      `✘ ${name}: not yet. Put your answer in the cell and run it; a hint comes after a first try.`,
    );
  else console.log(`✘ ${name}: not yet. ${hint}`);
}
