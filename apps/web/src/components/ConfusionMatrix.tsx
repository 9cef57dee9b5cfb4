// The best trial's confusion matrix on the test set: rows are true classes, columns predictions;
// cell shade by share of its row, the count in text (colour is never the only carrier).
export function ConfusionMatrix({ matrix, classNames }: { matrix: readonly (readonly number[])[]; classNames?: readonly string[] | undefined }) {
  const names = classNames ?? matrix.map((_, i) => String(i));
  return (
    // Scrolls on its own on a narrow screen instead of widening the page.
    <div className="confusion-wrap">
    <table className="confusion" data-testid="confusion-matrix" aria-label="Confusion matrix on the test set: rows true class, columns predicted class">
      <thead>
        <tr>
          <th scope="col">true ↓ / predicted →</th>
          {names.map((n) => (
            <th key={n} scope="col">{n}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {matrix.map((row, i) => {
          const total = row.reduce((a, b) => a + b, 0) || 1;
          return (
            <tr key={names[i] ?? i}>
              <th scope="row">{names[i]}</th>
              {row.map((count, j) => {
                const share = count / total;
                const colour = i === j ? `rgba(0, 158, 115, ${0.12 + 0.6 * share})` : count > 0 ? `rgba(213, 94, 0, ${0.1 + 0.6 * share})` : 'transparent';
                return (
                  <td key={j} style={{ background: colour }} data-true={i} data-predicted={j}>
                    {count}
                  </td>
                );
              })}
            </tr>
          );
        })}
      </tbody>
    </table>
    </div>
  );
}
